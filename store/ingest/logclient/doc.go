// Package logclient sends a model server's predictions and ground truth to
// Vigil's ingest API (see package ingest). It has no dependencies beyond the
// standard library, so any Go model server can import it:
//
//	c := logclient.New("http://vigil:8088", "churn", logclient.Options{Token: os.Getenv("VIGIL_INGEST_TOKEN")})
//	defer c.Close()
//	c.Log(ctx, logclient.Prediction{EventID: id, Features: f, Prediction: p, Score: &s})
//	...
//	c.LogGroundTruth(ctx, logclient.GroundTruth{EventID: id, Label: 1})
//
// Records are batched (by count, by bytes and by time) and sent by one
// background goroutine, so Log does not wait for the network; it blocks only
// when QueueBatches batches are already waiting (backpressure), until ctx is
// done. Failed batches are retried with exponential backoff and jitter on
// network errors, 429 and 5xx (honouring Retry-After); other 4xx responses
// are not retried. Failures are reported to OnError and by the next Flush.
//
// Imports: it imports only the standard library (model servers vendor it).
package logclient
