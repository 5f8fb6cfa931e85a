// Package charttest tests the Helm chart in charts/aispool: every example
// of charts/aispool/examples is linted and rendered with helm, and every
// rendered object is decoded strictly (unknown fields are errors) into its
// Kubernetes API type; the tests then check what the chart promises (TLS
// and the path secret on by default, probes, a node-local Service, a claim
// per gateway replica, a termination period longer than the graceful
// shutdown) and run the rendered arguments through aispool validate.
//
// Run it with make chart-test; HELM names the helm command (default: go run
// helm.sh/helm/v4/cmd/helm@v4.3.2).
package charttest
