// Package testkit holds the helpers aispool's tests share: self-signed
// certificates for loopback TLS, gzip and NDJSON request bodies, polling
// with a deadline, a buffer safe for concurrent use, large streams made of
// small pieces, the memory a function allocates and a small file system
// that fills up. It imports no
// other aispool package, so that any package's tests can use it; the fake
// ingestion endpoint they share is package chaos/fakeingest.
//
// It is for tests only: nothing outside _test.go files imports it.
package testkit
