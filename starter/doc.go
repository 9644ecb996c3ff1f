// Command starter is Vigil's CLI: validate a config, apply schedules, run
// and inspect evaluations, retrain, roll back, acknowledge and silence
// incidents, analyze files offline. Everything it does through Temporal can
// also be done with the plain temporal CLI (see the README).
//
// Imports: it may import any Vigil package except internal/devserver (the CLI
// never embeds a server) and worker; it talks to Temporal only through control
// and internal/dial.
package main
