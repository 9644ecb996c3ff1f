// Package pagerduty pages on-call through the PagerDuty Events API v2.
//
// Escalate (and trigger, when a route sends it first) sends a "trigger"
// event, acknowledge an "acknowledge", resolve a "resolve"; all carry the
// incident's dedup key, so they reach one PagerDuty incident. Update is not
// sent (PagerDuty already pages; figures are in Slack). A test event
// triggers an info-severity test incident and resolves it at once.
//
// Imports: it may import notify and the PagerDuty client library.
package pagerduty
