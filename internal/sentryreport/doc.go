// Package sentryreport sends Vigil's own errors to Sentry: activity
// failures and workflow task panics (a Temporal worker interceptor) and slog
// records at error level (a slog.Handler), tagged with the model and the
// workflow they concern.
//
// What an event carries is chosen, not scraped: the error's type and
// message, the tags below, and for panics the stack. Activity and workflow
// inputs, heartbeat details and log attributes other than the tags are never
// attached, so no raw data (records, features, labels) leaves the worker;
// every string of an event is also scrubbed of the values of the secrets
// the config names (Options.Secrets) before it is sent. The DSN itself is
// read from the environment variable observability.sentry.dsn_env names.
//
// May import: sentry-go and the Temporal SDK (interceptors, never the server); no Vigil package.
package sentryreport
