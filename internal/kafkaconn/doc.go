// Package kafkaconn turns a config.Kafka's connection settings (brokers,
// TLS, SASL with credentials read from the environment variables it names)
// into franz-go client options, for the Kafka ingest (store/ingest/kafka)
// and the audit publisher (audit) alike.
//
// May import: config and franz-go; no other Vigil package.
package kafkaconn
