// Package daemon is the aispool daemon's behaviour, kept out of cmd/aispool
// so that it is tested like any package: the configuration and its
// validation, the long-running Daemon (spool + sender + local ingestion
// endpoint + admin endpoint + graceful shutdown), and the one-shot Drain.
package daemon
