// Package integrations builds the configured notifiers from config.Notify,
// reading their secrets from the environment at that moment. It is separate
// from package notify because it imports every integration, and they import
// notify (Alertmanager keeps the same split: config/receiver builds the
// notify/* integrations).
//
// Imports: it may import config, notify and every notify/* integration.
package integrations
