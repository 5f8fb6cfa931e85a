#!/usr/bin/env bash
# Checks the Prometheus rules and the Grafana dashboard in deploy/ (docs/alerts.md,
# docs/dashboard.md) with promtool (Debian: apt-get install -y prometheus):
#   - promtool check rules on deploy/prometheus/aispool-rules.yaml;
#   - promtool test rules on its unit tests, aispool-rules.test.yaml;
#   - every query of deploy/grafana/aispool.json parses as PromQL (each is wrapped in a recording
#     rule, with the dashboard's variables replaced, and checked by promtool check rules).
# That every metric they name exists is a Go test: go test -run TestDeployFiles ./metrics.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
	echo "monitoring-check: promtool not found; on Debian: apt-get install -y prometheus" >&2
	exit 1
fi
rules=deploy/prometheus/aispool-rules.yaml
dashboard=deploy/grafana/aispool.json

echo "== promtool check rules $rules"
promtool check rules "$rules"
echo "== promtool test rules deploy/prometheus/aispool-rules.test.yaml"
(cd deploy/prometheus && promtool test rules aispool-rules.test.yaml)

echo "== the queries of $dashboard"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ids=$(jq '[.panels[].id] | length' "$dashboard")
unique=$(jq '[.panels[].id] | unique | length' "$dashboard")
if [ "$ids" != "$unique" ]; then
	echo "monitoring-check: $dashboard has panels with the same id" >&2
	exit 1
fi
# One recording rule per query; JSON strings are valid YAML scalars.
jq -r '
	"groups:",
	"  - name: dashboard-queries",
	"    rules:",
	(.panels[] | select(.targets) | .id as $id | .targets[] |
		"      - record: dashboard:panel_\($id)_\(.refId)",
		"        expr: \(.expr | gsub("\\$__rate_interval"; "5m") | gsub("\\$job"; ".*") | gsub("\\$instance"; ".*") | tojson)")
' "$dashboard" >"$tmp/dashboard-rules.yaml"
queries=$(grep -c 'record:' "$tmp/dashboard-rules.yaml")
promtool check rules "$tmp/dashboard-rules.yaml" >/dev/null || {
	promtool check rules "$tmp/dashboard-rules.yaml" >&2 || true
	echo "monitoring-check: a query of $dashboard does not parse" >&2
	exit 1
}
echo "  SUCCESS: $queries queries parse"
