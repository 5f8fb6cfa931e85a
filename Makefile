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

NFPM_VERSION          ?= v2.48.0

.PHONY: all help test lint fuzz bench benchmarks demo docs dist dist-check

all: lint test

help:
	@echo 'make test        the tests, exactly as the README and CI run them'
	@echo 'make lint        go vet, gofmt, staticcheck, golangci-lint (.golangci.yml)'
	@echo 'make fuzz        every fuzz target of the module, one after another, FUZZTIME each (default 60s)'
	@echo 'make bench       package benchmarks: BENCH=regexp PKG=./spool BENCHTIME=1s'
	@echo 'make benchmarks  the whole-system runs (go run ./benchmarks), written to benchmarks/REPORT.md'
	@echo 'make demo        the whole path on this machine against an embedded endpoint'
	@echo 'make docs        check that every link in README.md, CHANGELOG.md and docs/ resolves'
	@echo 'make dist        release archives, deb and rpm packages and SHA256SUMS in dist/ (VERSION=v1.2.3, TARGETS="linux/amd64 ...")'
	@echo 'make dist-check  inspect dist/: archives, packages, the version stamp (needs dpkg-deb and rpm)'

# The test command of the README; CI runs exactly this (with a -timeout).
test:
	go test -race -count=1 ./...

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

# Release artefacts (docs/release.md): static binaries for linux and darwin on amd64 and arm64, tar.gz
# archives, deb and rpm packages built with nfpm (a pinned Go tool, run with go run), SHA256SUMS.
dist:
	NFPM_VERSION=$(NFPM_VERSION) GO=$(GO) bash release/dist.sh

dist-check:
	GO=$(GO) bash release/dist-check.sh
