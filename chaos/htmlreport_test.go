package chaos

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

var (
	update  = flag.Bool("update", false, "rewrite the golden files in testdata")
	htmlDir = flag.String("htmldir", "", "also write the reports of the HTML tests to this directory, to look at")
)

// htmlT0 is the start of the synthetic runs.
var htmlT0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// syntheticResult builds a deterministic Result of a run of buckets endpoint
// buckets (100ms each) with kills kills, failing with lost lost ids and
// violations Retry-After violations when any of those is non-zero.
func syntheticResult(buckets, kills, lost, violations int) *Result {
	rng := rand.New(rand.NewPCG(uint64(buckets), uint64(kills)))
	width := 100 * time.Millisecond
	elapsed := time.Duration(buckets) * width
	r := &Result{
		Profile: "hostile", Seed: 42, Mode: "daemon",
		Started: htmlT0, Elapsed: elapsed,
		Envelopes: 20 * buckets,
		Dropped:   map[string]int{"status_400": 7, "sampled_out": 3},
		Counters: Counters{Enqueued: uint64(20 * buckets), Sent: uint64(19 * buckets), Retried: 321,
			Dropped: map[string]uint64{"status_400": 7, "sampled_out": 3}, Requests: 4321},
		Duplicates: 12,
		Endpoint: fakeingest.Report{
			Started: htmlT0.Add(250 * time.Millisecond), BucketWidth: width,
			Stats: fakeingest.Stats{ByOutcome: map[string]int{}},
		},
	}
	for i := range kills {
		r.Kills = append(r.Kills, Kill{Offset: elapsed * time.Duration(i+1) / time.Duration(kills+2), PID: 1000 + i})
	}
	// Samples every 250ms; the queue depth is unknown for a second after
	// each kill.
	// The shipper's gate closes for 700 ms every 3 s, and a Retry-After
	// of 1 s is given every 5 s.
	acked, delivered := 0, 0
	for off := time.Duration(0); off <= elapsed; off += 250 * time.Millisecond {
		acked = min(r.Envelopes, acked+rng.IntN(120))
		delivered = min(acked, delivered+rng.IntN(110))
		s := Sample{Offset: off, Acknowledged: acked, Delivered: delivered, Queued: int64(acked - delivered)}
		s.Delayed = s.Queued / 10
		if gate := off / (3 * time.Second) * (3 * time.Second); gate > 0 {
			s.ThrottledUntil = gate + 700*time.Millisecond
		}
		for _, k := range r.Kills {
			if off > k.Offset && off <= k.Offset+time.Second {
				s.Queued = -1
			}
		}
		r.Samples = append(r.Samples, s)
	}
	r.Acknowledged, r.Delivered = acked, delivered-lost
	for at := 5 * time.Second; at < elapsed; at += 5 * time.Second {
		given := htmlT0.Add(at)
		r.Endpoint.RetryAfters = append(r.Endpoint.RetryAfters, fakeingest.RetryAfterWindow{Listener: "primary", Given: given, Until: given.Add(time.Second)})
	}
	// The kinds include the pairs that once shared a colour.
	kinds := []string{"status_503", "throttle_429", "reset", "hang", "outage_refused", "redirect_307", "ok_400",
		"garbage_206", "truncate_200", "garbage_200", "throttle_window_429", "wrong_endpoint_404", "poison_500"}
	for i := range buckets {
		b := fakeingest.Bucket{Offset: time.Duration(i) * width, Requests: rng.IntN(12), PartialSuccesses: i % 3}
		for range rng.IntN(b.Requests + 1) {
			if b.Failures == nil {
				b.Failures = map[string]int{}
			}
			b.Failures[kinds[rng.IntN(len(kinds))]]++
		}
		r.Endpoint.Requests += b.Requests
		r.Endpoint.ByOutcome["ok_200"] += b.Requests
		for k, n := range b.Failures {
			r.Endpoint.ByOutcome["ok_200"] -= n
			r.Endpoint.ByOutcome[k] += n
		}
		r.Endpoint.Series = append(r.Endpoint.Series, b)
	}
	for i := range violations {
		at := htmlT0.Add(elapsed * time.Duration(i+1) / time.Duration(violations+1))
		r.Endpoint.Violations = append(r.Endpoint.Violations, fakeingest.Violation{
			At: at, Listener: []string{"primary", "secondary"}[i%2], Remote: "127.0.0.1:5" + fmt.Sprint(1000+i),
			Given: at.Add(-400 * time.Millisecond), NotBefore: at.Add(600 * time.Millisecond), Early: 600 * time.Millisecond,
			ViaRedirect: i%3 == 0,
		})
	}
	r.Endpoint.RetryAfterViolations = violations
	r.Endpoint.RetryAfterRaces = 2
	for i := range lost {
		r.Lost = append(r.Lost, fmt.Sprintf("lost-%04d", i))
	}
	r.LostCount = lost
	r.Checks = []Check{
		{Name: "nothing lost", Pass: lost == 0, Detail: fmt.Sprintf("%d acknowledged ids lost", lost)},
		{Name: "duplicates explained", Pass: true, Detail: "12 duplicates, all explained by lost answers"},
		{Name: "Retry-After honoured", Pass: violations == 0, Detail: fmt.Sprintf("%d violations", violations)},
	}
	return r
}

// renderHTML writes r's report, also to -htmldir as name.html if set.
func renderHTML(t *testing.T, name string, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	if *htmlDir != "" {
		if err := os.WriteFile(filepath.Join(*htmlDir, name+".html"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// wellFormedXML reports the first XML syntax error in doc.
func wellFormedXML(doc string) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

var (
	htmlSVGBlock  = regexp.MustCompile(`(?s)<svg.*?</svg>`)
	htmlNotNumber = regexp.MustCompile(`\bNaN\b|\bInf\b`)
	htmlBarTitle  = regexp.MustCompile(`<g><title>`)
)

// checkHTMLPage checks what every report must be: well-formed, offline, free
// of NaN and Inf.
func checkHTMLPage(t *testing.T, page string) {
	t.Helper()
	if err := wellFormedXML(page); err != nil {
		t.Errorf("the page is not well-formed XML: %v", err)
	}
	blocks := htmlSVGBlock.FindAllString(page, -1)
	for i, s := range blocks {
		if err := wellFormedXML(s); err != nil {
			t.Errorf("svg block %d is not well-formed: %v\n%.300s", i, err, s)
		}
	}
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, ref := range []string{"http://", "https://", "<script", "<link", "@import", "url("} {
		if strings.Contains(rest, ref) {
			t.Errorf("the page refers to something outside it: %q", ref)
		}
	}
	if m := htmlNotNumber.FindString(page); m != "" {
		t.Errorf("the page contains %q", m)
	}
}

func TestWriteHTML(t *testing.T) {
	scripted := syntheticResult(40, 0, 0, 0)
	scripted.Profile = `<script>alert("x")</script>`
	scripted.Checks[0].Detail = `a & b <i>c</i>`

	for _, tc := range []struct {
		name     string
		r        *Result
		verdict  string
		kills    int
		lost     []string // listed
		notLost  []string // not listed
		contains []string
		absent   []string
	}{{
		name:    "passing",
		r:       syntheticResult(120, 0, 0, 0),
		verdict: "PASS",
		contains: []string{"All 3 checks passed.", "hostile", ">status_503 (", "sampled_out", "partial successes/s: 206 with items accepted",
			"the shipper&#39;s gate: back-off or Retry-After (4)", "Retry-After given by the endpoint (2)", "of which waiting a retry delay",
			"<title>the shipper&#39;s gate closed 2.750–3.700 s", "<title>Retry-After given on primary at 5.000 s, until 6.000 s</title>"},
		absent: []string{"Lost ids", "Retry-After violations</h2>", `class="failed"`, `class="kill"`, "map["},
	}, {
		name:    "failing",
		r:       syntheticResult(300, 4, 130, 3),
		verdict: "FAIL",
		kills:   4,
		lost:    []string{"lost-0000", "lost-0050", "lost-0099"},
		notLost: []string{"lost-0100", "lost-0129"},
		contains: []string{"2 of 3 checks failed.", `<tr class="failed"><td>nothing lost</td>`,
			"Retry-After violations</h2>", "secondary", "600ms", "… and 30 more.", "kill (4)", "queue depth unknown"},
	}, {
		name:     "empty",
		r:        &Result{},
		verdict:  "FAIL",
		contains: []string{"No checks were run.", "No samples were recorded.", "The endpoint recorded no time series."},
		absent:   []string{"<svg xmlns", "Lost ids"},
	}, {
		name: "series without failures or samples",
		r: &Result{Checks: []Check{{Name: "ok", Pass: true}}, Endpoint: fakeingest.Report{
			Series: []fakeingest.Bucket{{Offset: 0, Requests: 3}, {Offset: 100 * time.Millisecond}}}},
		verdict:  "PASS",
		contains: []string{"The check passed.", "no failures", "No samples were recorded."},
	}, {
		name:     "kills without samples",
		r:        &Result{Kills: []Kill{{Offset: time.Second, PID: 7}, {Offset: 2 * time.Second, PID: 8}}},
		verdict:  "FAIL",
		kills:    2,
		contains: []string{"no samples", "kill at 1.000 s, pid 7"},
	}, {
		name:     "escaped",
		r:        scripted,
		verdict:  "PASS",
		contains: []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "a &amp; b &lt;i&gt;c&lt;/i&gt;"},
		absent:   []string{"<i>c</i>"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			page := renderHTML(t, "report-"+strings.ReplaceAll(tc.name, " ", "-"), tc.r)
			checkHTMLPage(t, page)
			if want := `<div class="verdict">` + tc.verdict + `</div>`; !strings.Contains(page, want) {
				t.Errorf("no verdict %s", tc.verdict)
			}
			if n := strings.Count(page, `<line class="kill"`); n != tc.kills {
				t.Errorf("%d kill lines, want %d", n, tc.kills)
			}
			for _, id := range tc.lost {
				if !strings.Contains(page, "<li>"+id+"</li>") {
					t.Errorf("lost id %s not listed", id)
				}
			}
			for _, id := range tc.notLost {
				if strings.Contains(page, id) {
					t.Errorf("lost id %s listed beyond the first %d", id, reportMaxListed)
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(page, s) {
					t.Errorf("the page lacks %q", s)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(page, s) {
					t.Errorf("the page has %q", s)
				}
			}
		})
	}
}

// TestWriteHTMLLargeRun checks that a long run's buckets are summed into
// at most reportMaxBars bars and that every kill is drawn.
func TestWriteHTMLLargeRun(t *testing.T) {
	r := syntheticResult(600, 25, 0, 40)
	page := renderHTML(t, "report-large", r)
	checkHTMLPage(t, page)
	if n := len(htmlBarTitle.FindAllString(page, -1)); n == 0 || n > reportMaxBars {
		t.Errorf("%d bars, want 1..%d", n, reportMaxBars)
	}
	if n := strings.Count(page, `<line class="kill"`); n != 25 {
		t.Errorf("%d kill lines, want 25", n)
	}
	if n := strings.Count(page, `<path class="violation"`); n != 40 {
		t.Errorf("%d violation markers, want 40", n)
	}
}

func TestWriteHTMLGolden(t *testing.T) {
	r := syntheticResult(120, 3, 5, 2)
	page := renderHTML(t, "report-golden", r)
	checkHTMLPage(t, page)
	golden := filepath.Join("testdata", "report.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./chaos -run TestWriteHTMLGolden -update)", err)
	}
	if page == string(want) {
		return
	}
	got, exp := strings.Split(page, "\n"), strings.Split(string(want), "\n")
	for i := range min(len(got), len(exp)) {
		if got[i] != exp[i] {
			t.Fatalf("the report differs from %s at line %d:\n got: %.200s\nwant: %.200s\n(regenerate with -update)", golden, i+1, got[i], exp[i])
		}
	}
	t.Fatalf("the report has %d lines, %s %d (regenerate with -update)", len(got), golden, len(exp))
}

// TestHTMLKindColours: every failure kind has a colour of its own, the
// known ones always the same, the others distinct from every colour in the
// same figure.
func TestHTMLKindColours(t *testing.T) {
	seen := map[string]string{}
	for k, c := range kindColours {
		if other, ok := seen[c]; ok {
			t.Errorf("%s and %s share %s", k, other, c)
		}
		seen[c] = k
	}
	for _, pair := range [][2]string{{"garbage_206", "truncate_200"}, {"garbage_200", "throttle_window_429"}} {
		if kindColours[pair[0]] == "" || kindColours[pair[0]] == kindColours[pair[1]] {
			t.Errorf("%s and %s must have colours of their own", pair[0], pair[1])
		}
	}
	// Labels the table does not know get unused colours, none shared.
	kinds := []string{"status_500", "throttle_429", "weird_1", "weird_2", "weird_3"}
	for _, c := range fallbackColours {
		kinds = append(kinds, "x_"+c) // more unknown labels than fallback colours: cycling is allowed past them
	}
	got := colourKinds(kinds[:5])
	used := map[string]bool{}
	for _, k := range kinds[:5] {
		if got[k] == "" || used[got[k]] {
			t.Errorf("%s: colour %q (shared or none) in %v", k, got[k], got)
		}
		used[got[k]] = true
	}
	if got["status_500"] != kindColours["status_500"] {
		t.Errorf("a known kind keeps its colour: %v", got)
	}
	if all := colourKinds(kinds); len(all) != len(kinds) {
		t.Errorf("%d colours for %d kinds", len(all), len(kinds))
	}
}

// TestHTMLShipperGates reads the shipper's gate periods from the sampled
// throttled-until times.
func TestHTMLShipperGates(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	samples := []Sample{
		{Offset: ms(100)},
		{Offset: ms(200), ThrottledUntil: ms(180)}, // armed and over between two samples
		{Offset: ms(300), ThrottledUntil: ms(180)},
		{Offset: ms(400), ThrottledUntil: ms(900)},  // armed after 300 ms
		{Offset: ms(500), ThrottledUntil: ms(1200)}, // extended: one period
		{Offset: ms(1300), ThrottledUntil: ms(1200)},
		{Offset: ms(1400), ThrottledUntil: ms(1350)}, // a short one
	}
	got := shipperGates(samples)
	want := []span{{ms(100), ms(180)}, {ms(300), ms(1200)}, {ms(1300), ms(1350)}}
	if !slices.Equal(got, want) {
		t.Errorf("gates %v, want %v", got, want)
	}
}
