// Package slack posts Vigil incidents to Slack.
//
// With a bot token, an incident is one head message (Block Kit, with
// Acknowledge and Silence buttons) whose ref is "channel:ts"; later events
// reply in its thread and chat.update the head so it always shows the
// current state. With only an incoming-webhook URL, every event is one
// message (no threads, no updates, no buttons).
//
// Idempotency: an activity may run twice (the first post succeeded but its
// answer was lost). The head message carries message metadata
// (event_type "vigil_incident", payload incident_id), and before posting a
// trigger the notifier looks for that metadata in the channel's recent
// conversations.history. This needs the channel's ID: configure the channel
// as an ID (C0123…), or the notifier learns it from its first post and can
// only deduplicate after that. Thread replies are at-least-once.
//
// Imports: it may import notify and the Slack client library.
package slack
