// Package tensorboard writes TensorBoard event files (events.out.tfevents.*)
// so that `tensorboard --logdir` shows Vigil's monitoring metrics beside a
// model's training curves. No maintained Go writer exists; this one is small:
// TFRecord framing with masked CRC-32C (tfrecord.go), the Event and Summary
// protocol buffers encoded by hand with protowire (event.go), and a sink
// that writes one file per model and evaluation (sink.go).
//
// May import: analysis only (the destination is a PutFunc the worker fills with a file or S3 writer);
// never activities or workflows: the worker hands its sink to the activities as an EvaluationSink.
package tensorboard
