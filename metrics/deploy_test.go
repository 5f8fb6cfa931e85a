package metrics

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/spool"
)

// The dashboard and the alert rules that ship in deploy/ (docs/dashboard.md,
// docs/alerts.md), and the Helm chart's copy of the rules.
var deployFiles = []string{
	"../deploy/grafana/aispool.json",
	"../deploy/prometheus/aispool-rules.yaml",
	"../deploy/prometheus/aispool-rules.test.yaml",
}

// dropReasons are every reason the spool and the sender count drops under
// (status_<code> aside).
var dropReasons = []string{
	spool.ReasonFull, spool.ReasonExpired, spool.ReasonCorrupt, spool.ReasonRejected,
	breeze.ReasonSampledOut, breeze.ReasonExpired, breeze.ReasonMaxAttempts, breeze.ReasonTooLarge, breeze.ReasonPoison,
}

var (
	metricName = regexp.MustCompile(`\b(?:aispool|process|go)_[a-z0-9_]*[a-z0-9]`)
	selector   = regexp.MustCompile(`\b((?:aispool|process|go)_[a-z0-9_]*[a-z0-9])\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

// scrape serves a registry like the daemon's (aispool's collector with every
// source, the Go runtime and process collectors) over HTTP and parses what
// a Prometheus server would read.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := NewRegistry()
	if err := Register(reg, fixedSources()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// family finds the family a series name belongs to: a histogram's
// _bucket, _sum and _count series belong to the histogram.
func family(families map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	if mf, ok := families[name]; ok {
		return mf
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf, ok := families[base]; ok && (mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY) {
				return mf
			}
		}
	}
	return nil
}

// labelValues returns the values of label in mf's series, and whether any
// series has that label.
func labelValues(mf *dto.MetricFamily, label string) ([]string, bool) {
	var values []string
	found := false
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				found = true
				values = append(values, lp.GetValue())
			}
		}
	}
	return values, found
}

// TestDeployFilesNameExposedMetrics checks that every metric the Grafana
// dashboard and the Prometheus rules name exists in the exposition, and that
// the labels they select on exist, with values that can occur.
func TestDeployFilesNameExposedMetrics(t *testing.T) {
	families := scrape(t)
	for _, file := range deployFiles {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			if strings.HasSuffix(file, ".json") {
				text = jsonStrings(t, b) // PromQL in JSON strings has its quotes escaped
			}
			names := metricName.FindAllString(text, -1)
			if len(names) == 0 {
				t.Fatal("names no metric at all")
			}
			slices.Sort(names)
			for _, name := range slices.Compact(names) {
				if family(families, name) != nil {
					continue
				}
				t.Errorf("%s names %s, which the exposition does not have", file, name)
			}
			for _, sel := range selector.FindAllStringSubmatch(text, -1) {
				mf := family(families, sel[1])
				if mf == nil {
					continue // reported above, or not exposed yet
				}
				for _, m := range matcher.FindAllStringSubmatch(sel[2], -1) {
					label, op, value := m[1], m[2], m[3]
					if label == "job" || label == "instance" {
						continue // target labels, added by Prometheus
					}
					values, ok := labelValues(mf, label)
					if !ok {
						t.Errorf("%s selects %s on label %q, which it does not have", file, sel[0], label)
						continue
					}
					if op != "=" || strings.HasSuffix(file, ".test.yaml") {
						continue // regular expressions; the rules' tests feed unknown values on purpose
					}
					switch label {
					case "reason":
						if !slices.Contains(dropReasons, value) && !strings.HasPrefix(value, "status_") {
							t.Errorf("%s selects drop reason %q, which neither the spool nor the sender counts (%v, status_<code>)", file, value, dropReasons)
						}
					case "code":
						// status codes appear as they are answered
					default:
						if !slices.Contains(values, value) {
							t.Errorf("%s selects %s=%q, not among the exposed values %v", file, label, value, values)
						}
					}
				}
			}
		})
	}
}

// jsonStrings returns every string of a JSON document, one a line.
func jsonStrings(t *testing.T, b []byte) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var sb strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			sb.WriteString(v)
			sb.WriteByte('\n')
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return sb.String()
}

// TestDeployFilesCheckFails makes sure the check above can fail: a name it
// must not find, and a label it must not accept.
func TestDeployFilesCheckFails(t *testing.T) {
	families := scrape(t)
	if family(families, "aispool_spool_record") != nil {
		t.Error("a misspelt name was found")
	}
	if family(families, "aispool_request_duration_seconds_bucket") == nil {
		t.Error("a histogram's bucket series was not found")
	}
	if family(families, "aispool_spool_records_bucket") != nil {
		t.Error("a gauge has no bucket series")
	}
	if _, ok := labelValues(families["aispool_ingest_items_total"], "reason"); ok {
		t.Error("aispool_ingest_items_total has no reason label")
	}
	if values, _ := labelValues(families["aispool_ingest_items_total"], "outcome"); !slices.Contains(values, "refused") {
		t.Errorf("outcome values %v lack refused", values)
	}
	for _, name := range []string{"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if family(families, name) == nil {
			t.Errorf("%s is not exposed: the process panels need it", name)
		}
	}
}
