// Package teams posts Vigil incidents to Microsoft Teams as Adaptive Cards,
// through an incoming webhook or a Power Automate "Workflows" URL. Each
// event is one card: webhooks can neither thread nor update.
//
// Imports: it may import notify and the standard library.
package teams
