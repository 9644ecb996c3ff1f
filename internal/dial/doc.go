// Package dial turns the config's temporal section (address, namespace, TLS,
// Temporal Cloud API key) into client options, so the worker and the starter
// CLI reach the same cluster the same way.
//
// Imports: it may import config and the Temporal SDK client; nothing else of
// Vigil's.
package dial
