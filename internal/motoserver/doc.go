// Package motoserver runs moto (`python3 -m moto.server`), an independent
// implementation of the AWS APIs, on a loopback port for tests, so that S3
// and SageMaker code is checked against something other than our own beliefs
// about those services.
//
// One server is started per test binary, on first use, and stopped by Main
// (call it from TestMain); tests keep apart by naming their own buckets,
// jobs and endpoints. Where moto is not installed the tests that need it
// skip with a message saying so, except under CI=true, where they fail:
// CI must run them.
//
// Imports: it is test support: only tests import it. It may import the
// standard library and the AWS SDK.
package motoserver
