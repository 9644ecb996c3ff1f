// Package activities holds every side effect of Vigil's workflows: reading
// data, analysing it, writing reports, publishing metrics, notifying people,
// starting workflows, training and promoting models. Activities are methods
// on one struct whose clients are injected by the worker (and by tests).
//
// Its XxxInput/XxxResult types (types.go) are the workflows' wire format:
// they are in recorded histories, so they are plain types of their own,
// converted at this edge from the config (LoadModel) and to the domain
// packages' types (retrain.go ↔ train/lifecycle); wire_test.go pins their
// JSON. The retrain activities are thin adapters over train/lifecycle.
//
// Activities record the audit trail (audit.go): each step writes its event
// to the audit outbox, with an id derived from the step, so a retry records
// no second event; the worker publishes the outbox to Kafka.
//
// May import: analysis, audit, config, dashboard (ReportURL), notify, store,
// train, train/lifecycle and the Temporal SDK (activity, temporal, worker). Not workflows: workflows import
// this package.
package activities
