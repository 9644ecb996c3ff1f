// Package notify is how Vigil tells people about incidents: one Event type,
// one Notifier interface, and the pieces every integration shares — error
// classification, the retry loop, dedup keys and routing.
//
// Each integration lives in its own sub-package (notify/slack,
// notify/pagerduty, notify/teams, notify/opsgenie, notify/webhook,
// notify/console), in the style of Alertmanager's notify/. The
// notify/integrations package builds the configured ones from config.Notify.
//
// An Event is passed from the incident workflow to an activity, so it lands
// in Temporal history: it is plain data and never holds a secret. Secrets are
// read from the environment when a Notifier is built and stay inside it.
//
// Imports: it may import config; nothing else of Vigil's. The integrations
// under it import notify, never the other way round (notify/integrations
// builds them).
package notify
