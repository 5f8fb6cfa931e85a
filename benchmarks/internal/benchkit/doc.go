// Package benchkit is the plumbing the benchmark programs share
// (`go run ./benchmarks`, ./benchmarks/otlpload, ./benchmarks/intakeload
// and the comparison module benchmarks/compare):
// what a parent needs to run its children and to measure them from
// outside.
//
//   - a parent's set-up ([StartParent]: its binary, a scratch directory,
//     a context that ends on a signal or a timeout) and the module's root
//     ([ModuleRoot]);
//   - the loopback ingestion endpoint role ([ServeEndpoint]: the chaos
//     kit's fake endpoint in its counting or discarding mode, with the
//     parent's /stats and /control routes) and its client
//     ([EndpointClient]);
//   - a child's standard output read line by line ([Lines]);
//   - "aispool run" as a child process ([StartDaemon], [Daemon],
//     [BuildAispool]) and a cheap counting upstream in the parent's
//     process for it to ship to ([StartUpstream]);
//   - a finished child's rusage ([UsageOf]), this process's own figures
//     from /proc ([ReadHWM], [ReadStatusKiB], [LoadAvg], [CPUModel]) and a
//     running child's ([ProcStatusKiB]);
//   - children that die with the parent ([ChildSysProcAttr]), the size of
//     a storage directory ([DirBytes]), a writer safe for concurrent use
//     ([SyncWriter]).
//
// It lives under benchmarks/ so that only the benchmark programs import
// it; the comparison module, a Go module of its own, may import it since
// its import path is under benchmarks/ too.
package benchkit
