// Package activities holds every side effect of Vigil's workflows: reading
// data, analysing it, writing reports, publishing metrics, notifying people,
// starting workflows, training and promoting models. Activities are methods
// on one struct whose clients are injected by the worker (and by tests).
//
// Imports: it may import the domain and I/O packages (analysis, config, store,
// notify, the Temporal SDK's activity side); never workflows, control, or
// worker. Workflows reach it through method values on a typed nil *Activities;
// it starts workflows only through the Workflows interface, which
// control.Client implements.
package activities
