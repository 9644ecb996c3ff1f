// Package config is Vigil's YAML configuration: the schema, its defaults, and
// validation that reports every problem with file, line and field path.
//
// Secrets never appear in a Config: fields ending in _env name environment
// variables, and the worker reads them when it builds its clients. A Config
// can therefore be logged or passed to a workflow without leaking anything.
//
// Imports: it imports only codec (to check encryption keys) of Vigil's
// packages; everything else imports it. It must not import Temporal, store,
// notify or train.
package config
