# The project's everyday commands. CI (.ci/run) runs what `make lint` and
# `make test` run; the linters are pinned and run with `go run`, so nothing is
# installed globally.

GO                    ?= go
STATICCHECK_VERSION   ?= v0.7.0
GOLANGCI_LINT_VERSION ?= v2.15.0
FUZZTIME              ?= 60s
BENCH                 ?= .
BENCHTIME             ?= 1s
PKG                   ?= ./...
# The version stamped into the binary and the image tag; IMAGE is the name the
# manifests and the Helm chart pull (docs/container.md).
VERSION               ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE                 ?= ghcr.io/aispool/aispool
CONTAINER_ENGINE      ?= podman
# helm runs from the Go module proxy, pinned; nothing is installed.
HELM_VERSION          ?= v4.3.2
HELM                  ?= $(GO) run helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

NFPM_VERSION          ?= v2.48.0

.PHONY: all help test node-client lint fuzz bench benchmarks demo docs man version image image-check monitoring-check chart-test dist dist-check

all: lint test

help:
	@echo 'make test        the tests, exactly as the README and CI run them (npm ci for the Node.js client test first)'
	@echo 'make lint        go vet, gofmt, staticcheck, golangci-lint (.golangci.yml)'
	@echo 'make fuzz        every fuzz target of the module, one after another, FUZZTIME each (default 60s)'
	@echo 'make bench       package benchmarks: BENCH=regexp PKG=./spool BENCHTIME=1s'
	@echo 'make benchmarks  the whole-system runs (go run ./benchmarks), written to benchmarks/REPORT.md'
	@echo 'make demo        the whole path on this machine against an embedded endpoint'
	@echo 'make docs        check that every link in README.md, CHANGELOG.md and docs/ resolves'
	@echo 'make man         the manual pages of every command, written to MANDIR (default build/man)'
	@echo 'make image       the container image aispool:$$(VERSION) and $$(IMAGE):$$(VERSION), with podman'
	@echo 'make image-check build the image and check its configuration, contents and binary'
	@echo 'make monitoring-check  promtool check and test of the alert rules, the dashboard'"'"'s queries, their metrics'
	@echo 'make chart-test  helm lint and template of every chart example, decoded strictly against the Kubernetes types'
	@echo 'make version     print the version make image stamps (git describe)'
	@echo 'make dist        release archives, deb and rpm packages and SHA256SUMS in dist/ (VERSION=v1.2.3, TARGETS="linux/amd64 ...")'
	@echo 'make dist-check  inspect dist/: archives, packages, the version stamp (needs dpkg-deb and rpm)'

# The test command of the README; CI (.ci/run) runs exactly this. First the
# Node.js exporter fixture of the real-client test (npm ci, pinned by its lock
# file); without npm that test is skipped, and said so here, since go test
# shows skips only with -v (with CI=true it fails instead).
NODE_CLIENT := cmd/aispool/testdata/node-client
NODE_OTLP_CLIENT := cmd/aispool/testdata/node-otlp-client
test: node-client
	$(GO) test -race -count=1 -timeout 12m ./...

node-client:
	@if [ -d $(NODE_CLIENT)/node_modules/@azure/monitor-opentelemetry-exporter ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "== npm ci in $(NODE_CLIENT) (the Node.js exporter of the real-client test)"; \
		cd $(NODE_CLIENT) && npm ci --no-audit --no-fund; \
	else \
		echo "NOTICE: npm is not installed: the real Node.js client test (cmd/aispool TestNodeExporter*) will be SKIPPED" >&2; \
	fi
	@if [ -d $(NODE_OTLP_CLIENT)/node_modules/@opentelemetry ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "== npm ci in $(NODE_OTLP_CLIENT) (the Node.js OpenTelemetry SDK's OTLP exporters)"; \
		cd $(NODE_OTLP_CLIENT) && npm ci --no-audit --no-fund; \
	else \
		echo "NOTICE: npm is not installed: the Node.js OTLP client test will be SKIPPED" >&2; \
	fi

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

# Every fuzz target of every package, found with `go test -list`, each for
# FUZZTIME. go test fuzzes one target of one package at a time; a failure
# stops the run and leaves its input under the package's testdata/fuzz/.
fuzz:
	@set -e; \
	targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { n = split(names, a, " "); for (i = 1; i <= n; i++) print $$2 " " a[i]; names = "" }'); \
	if [ -z "$$targets" ]; then echo "no fuzz targets found" >&2; exit 1; fi; \
	echo "$$targets" | while read -r pkg target; do \
		echo "== fuzz $$pkg $$target for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg" </dev/null; \
	done

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(PKG)

benchmarks:
	$(GO) run ./benchmarks

demo:
	$(GO) run ./cmd/aispool demo

docs:
	$(GO) test -count=1 ./internal/doclinks

# Manual pages, generated from the commands' help text (not committed).
MANDIR ?= build/man
man:
	$(GO) run ./cmd/aispool man --dir $(MANDIR)

version:
	@echo $(VERSION)

# The container image (Containerfile, docs/container.md): a static binary
# built here, CA certificates and a non-root user on an empty base.
image:
	VERSION=$(VERSION) IMAGE=$(IMAGE) CONTAINER_ENGINE=$(CONTAINER_ENGINE) scripts/image.sh

image-check: image
	VERSION=$(VERSION) CONTAINER_ENGINE=$(CONTAINER_ENGINE) scripts/image-check.sh

# The Prometheus rules and the Grafana dashboard in deploy/ (docs/alerts.md,
# docs/dashboard.md): promtool (apt-get install -y prometheus), then the Go
# test that every metric they name is exposed.
monitoring-check:
	scripts/monitoring-check.sh
	$(GO) test -count=1 -run 'TestDeployFiles' ./metrics

# The Helm chart (charts/aispool, docs/kubernetes.md): its tests are a Go
# module of their own (charts/test), so that the aispool module never
# depends on the Kubernetes libraries; they run helm as $(HELM).
chart-test:
	cd charts/test && $(GO) vet ./... && HELM="$(HELM)" $(GO) test -count=1 -timeout 20m ./...
# Release artefacts (docs/release.md): static binaries for linux and darwin on amd64 and arm64, tar.gz
# archives, deb and rpm packages built with nfpm (a pinned Go tool, run with go run), SHA256SUMS.
dist:
	NFPM_VERSION=$(NFPM_VERSION) GO=$(GO) bash release/dist.sh

dist-check:
	GO=$(GO) bash release/dist-check.sh
