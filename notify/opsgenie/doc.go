// Package opsgenie sends Vigil incidents to the Opsgenie Alert API v2:
// trigger and escalate create an alert whose alias is the dedup key (so
// Opsgenie deduplicates), acknowledge and resolve acknowledge and close it
// by alias, update adds a note.
//
// Imports: it may import notify and the standard library.
package opsgenie
