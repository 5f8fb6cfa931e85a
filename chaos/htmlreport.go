package chaos

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// WriteHTML writes r as one self-contained HTML page: the verdict and a
// summary of the counts, the checks, plots over time (delivery progress
// with the spool's queue depth and every kill; the endpoint's failures by
// kind with the request rate and the Retry-After violations), the
// violations and the lost ids. The page loads nothing: its CSS and SVG are
// inline, so it works offline and in any browser. It is also well-formed
// XML. Every value from r is escaped.
func (r *Result) WriteHTML(w io.Writer) error {
	return reportTemplate.Execute(w, r.htmlView())
}

// Limits of the report.
const (
	// reportMaxBars is how many bars the failures plot draws at most:
	// adjacent buckets are summed into one bar beyond that.
	reportMaxBars = 150
	// reportMaxListed is how many lost ids and violations the page lists.
	reportMaxListed = 100
)

// Colours.
const (
	colAcked     = "#1f4e99"
	colDelivered = "#5cb85c"
	colQueued    = "#e08214"
	colOffered   = "#8a8f98"
	colUnknown   = "#e3e6ea"
	colKill      = "#c5221f"
	colRequests  = "#3c4858"
	colViolation = "#b00020"
)

// kindColours are the colours of the failure kinds, in the order of their
// sorted labels: distinct hues, readable on white, in a fixed order so the
// same run always gets the same colours.
var kindColours = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
	"#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#8c564b",
}

// htmlView is what the template renders.
type htmlView struct {
	Title      string
	Pass       bool
	Subtitle   string // how many checks failed
	Profile    string
	Seed       uint64
	Mode       string
	Started    string
	Elapsed    string
	Summary    []summaryRow
	Shipper    []summaryRow
	Checks     []Check
	Progress   *plotFigure
	Failures   *plotFigure
	Violations []violationRow
	// MoreViolations and MoreLost count those not listed.
	MoreViolations int
	Races          int
	Lost           []string
	MoreLost       int
}

// summaryRow is one line of a summary table.
type summaryRow struct {
	Label, Value, Note string
	Bad, Sub           bool
}

// violationRow is one Retry-After violation, formatted.
type violationRow struct {
	At, Listener, Remote, Early, After string
	ViaRedirect                        bool
}

// htmlView gathers and formats what the page shows.
func (r *Result) htmlView() htmlView {
	v := htmlView{
		Pass:    r.Passed(),
		Profile: fmtOrDash(r.Profile),
		Seed:    r.Seed,
		Mode:    fmtOrDash(r.Mode),
		Started: "—",
		Elapsed: r.Elapsed.Round(time.Millisecond).String(),
		Checks:  r.Checks,
		Races:   r.Endpoint.RetryAfterRaces,
	}
	if !r.Started.IsZero() {
		v.Started = r.Started.UTC().Format("2006-01-02 15:04:05 MST")
	}
	verdict := "FAIL"
	if v.Pass {
		verdict = "PASS"
	}
	v.Title = fmt.Sprintf("%s · chaos %s · seed %d", verdict, v.Profile, r.Seed)
	failed := 0
	for _, c := range r.Checks {
		if !c.Pass {
			failed++
		}
	}
	switch n := len(r.Checks); {
	case n == 0:
		v.Subtitle = "No checks were run."
	case n == 1 && failed == 1:
		v.Subtitle = "The check failed."
	case n == 1:
		v.Subtitle = "The check passed."
	case failed > 0:
		v.Subtitle = fmt.Sprintf("%d of %d checks failed.", failed, n)
	default:
		v.Subtitle = fmt.Sprintf("All %d checks passed.", n)
	}
	v.Summary, v.Shipper = r.summaryRows(), r.shipperRows()

	end := r.span()
	v.Progress = r.progressFigure(end)
	v.Failures = r.failuresFigure(end)

	for _, x := range r.Endpoint.Violations[:min(len(r.Endpoint.Violations), reportMaxListed)] {
		v.Violations = append(v.Violations, violationRow{
			At:          fmtSeconds(r.offsetOf(x.At)),
			Listener:    x.Listener,
			Remote:      x.Remote,
			Early:       x.Early.Round(time.Millisecond).String(),
			After:       x.At.Sub(x.Given).Round(time.Millisecond).String(),
			ViaRedirect: x.ViaRedirect,
		})
	}
	v.MoreViolations = max(r.Endpoint.RetryAfterViolations, len(r.Endpoint.Violations)) - len(v.Violations)
	v.Lost = r.Lost[:min(len(r.Lost), reportMaxListed)]
	v.MoreLost = max(r.LostCount, len(r.Lost)) - len(v.Lost)
	return v
}

// summaryRows are the run's counts, the dropped ones by reason.
func (r *Result) summaryRows() []summaryRow {
	dropped := 0
	for _, n := range r.Dropped {
		dropped += n
	}
	failed := 0
	for k, n := range r.Endpoint.ByOutcome {
		if k != fakeingest.FaultNone.Outcome(200) {
			failed += n
		}
	}
	rows := []summaryRow{
		{Label: "envelopes offered", Value: fmtCount(r.Envelopes)},
		{Label: "acknowledged", Value: fmtCount(r.Acknowledged), Note: fmtPercent(r.Acknowledged, r.Envelopes, "of offered")},
		{Label: "delivered", Value: fmtCount(r.Delivered), Note: fmtPercent(r.Delivered, r.Acknowledged, "of acknowledged")},
		{Label: "delivered, unacknowledged", Value: fmtCount(r.DeliveredUnacked), Note: "in flight when killed: allowed"},
		{Label: "dropped (documented)", Value: fmtCount(dropped), Note: fmtPercent(dropped, r.Acknowledged, "of acknowledged")},
	}
	for _, k := range slices.Sorted(maps.Keys(r.Dropped)) {
		rows = append(rows, summaryRow{Label: k, Value: fmtCount(r.Dropped[k]), Sub: true})
	}
	lost := max(r.LostCount, len(r.Lost))
	dupNote := fmtCount(r.UnexplainedDuplicates) + " with intact answers"
	if len(r.Kills) > 0 && r.UnexplainedDuplicates > 0 {
		dupNote += ", explained by the kills"
	}
	rows = append(rows,
		summaryRow{Label: "lost", Value: fmtCount(lost), Bad: lost > 0, Note: "acknowledged, neither delivered nor dropped"},
		summaryRow{Label: "duplicates", Value: fmtCount(r.Duplicates), Bad: r.UnexplainedDuplicates > 0 && len(r.Kills) == 0,
			Note: dupNote},
		summaryRow{Label: "kills", Value: fmtCount(len(r.Kills))},
		summaryRow{Label: "requests", Value: fmtCount(r.Endpoint.Requests), Note: fmtCount(failed) + " not a plain 200"},
		summaryRow{Label: "Retry-After violations", Value: fmtCount(r.Endpoint.RetryAfterViolations),
			Bad: r.Endpoint.RetryAfterViolations > 0, Note: fmtCount(r.Endpoint.RetryAfterRaces) + " races within the grace"},
	)
	return rows
}

// shipperRows are the shipper's counters.
func (r *Result) shipperRows() []summaryRow {
	c := r.Counters
	rows := []summaryRow{
		{Label: "enqueued", Value: fmtCount64(c.Enqueued)},
		{Label: "sent", Value: fmtCount64(c.Sent)},
		{Label: "retried", Value: fmtCount64(c.Retried)},
		{Label: "requests", Value: fmtCount64(c.Requests)},
	}
	for _, k := range slices.Sorted(maps.Keys(c.Dropped)) {
		rows = append(rows, summaryRow{Label: "dropped " + k, Value: fmtCount64(c.Dropped[k])})
	}
	return rows
}

// bucketWidth is the width of the endpoint's buckets (100ms if unknown).
func (r *Result) bucketWidth() time.Duration {
	s := r.Endpoint.Series
	switch {
	case r.Endpoint.BucketWidth > 0:
		return r.Endpoint.BucketWidth
	case len(s) > 1 && s[1].Offset > s[0].Offset:
		return s[1].Offset - s[0].Offset
	}
	return 100 * time.Millisecond
}

// endpointShift is what to add to an offset since the endpoint started to
// make it an offset since the run started.
func (r *Result) endpointShift() time.Duration {
	if r.Started.IsZero() || r.Endpoint.Started.IsZero() {
		return 0
	}
	return r.Endpoint.Started.Sub(r.Started)
}

// offsetOf is t since the run started (since the endpoint started if the
// run's start is unknown).
func (r *Result) offsetOf(t time.Time) time.Duration {
	if !r.Started.IsZero() {
		return t.Sub(r.Started)
	}
	return t.Sub(r.Endpoint.Started)
}

// span is the length of the time axis in seconds: the run, or the last
// thing it recorded if later; never 0.
func (r *Result) span() float64 {
	end := r.Elapsed
	for _, s := range r.Samples {
		end = max(end, s.Offset)
	}
	for _, k := range r.Kills {
		end = max(end, k.Offset)
	}
	if n := len(r.Endpoint.Series); n > 0 {
		end = max(end, r.Endpoint.Series[n-1].Offset+r.bucketWidth()+r.endpointShift())
	}
	for _, v := range r.Endpoint.Violations {
		end = max(end, r.offsetOf(v.At))
	}
	if end <= 0 {
		return 1
	}
	return end.Seconds()
}

// progressFigure plots the acknowledged and delivered counts, the spool's
// queue depth and the kills; nil without samples or kills.
func (r *Result) progressFigure(end float64) *plotFigure {
	if len(r.Samples) == 0 && len(r.Kills) == 0 {
		return nil
	}
	f := newFigure(end, 28, 270, 110)
	samples := slices.Clone(r.Samples)
	slices.SortStableFunc(samples, func(a, b Sample) int { return cmp.Compare(a.Offset, b.Offset) })

	counts, queue := f.Panels[0], f.Panels[1]
	hi, qhi := float64(r.Envelopes), 0.0
	for _, s := range samples {
		hi = max(hi, float64(s.Acknowledged), float64(s.Delivered))
		qhi = max(qhi, float64(s.Queued))
	}
	sy := counts.yAxis("envelopes", hi, 6, true)
	qy := queue.yAxis("spool queue", qhi, 3, true)

	if r.Envelopes > 0 {
		y := sy.at(float64(r.Envelopes))
		counts.Lines = append(counts.Lines, polyline{
			D: fmt.Sprintf("M%s %sH%s", f.X0, y, f.X1), Color: colOffered, Width: "1.2", Dash: "2 4"})
		f.Legend = append(f.Legend, legendEntry{Label: "offered", Color: colOffered, Kind: "line", Width: "1.5", Dash: "2 4"})
	}
	var acked, delivered, queued polypath
	for i, s := range samples {
		x := f.sx.at(s.Offset.Seconds())
		acked.to(x, sy.at(float64(s.Acknowledged)))
		delivered.to(x, sy.at(float64(s.Delivered)))
		if s.Queued < 0 {
			queued.lift()
			// The daemon was down: shade until the next sample.
			x2 := f.X1
			if i+1 < len(samples) {
				x2 = f.sx.at(samples[i+1].Offset.Seconds())
			}
			if n := len(queue.Bands); n > 0 && queue.Bands[n-1].X+queue.Bands[n-1].W >= x {
				queue.Bands[n-1].W = max(x2-queue.Bands[n-1].X, 1)
			} else {
				queue.Bands = append(queue.Bands, svgBox{X: x, Y: queue.Top, W: max(x2-x, 1), H: queue.Bottom - queue.Top, Color: colUnknown})
			}
			continue
		}
		queued.to(x, qy.at(float64(s.Queued)))
	}
	if len(samples) > 0 {
		counts.Lines = append(counts.Lines,
			polyline{D: delivered.String(), Color: colDelivered, Width: "5", Dash: "none"},
			polyline{D: acked.String(), Color: colAcked, Width: "1.8", Dash: "none"})
		queue.Lines = append(queue.Lines, polyline{D: queued.String(), Color: colQueued, Width: "1.8", Dash: "none"})
		f.Legend = append(f.Legend,
			legendEntry{Label: "acknowledged", Color: colAcked, Kind: "line", Width: "2", Dash: "none"},
			legendEntry{Label: "delivered", Color: colDelivered, Kind: "line", Width: "5", Dash: "none"},
			legendEntry{Label: "spool queue depth", Color: colQueued, Kind: "line", Width: "2", Dash: "none"})
		if len(queue.Bands) > 0 {
			f.Legend = append(f.Legend, legendEntry{Label: "queue depth unknown (shipper down)", Color: colUnknown, Kind: "box"})
		}
	} else {
		counts.Note = "no samples"
	}

	lastLabel := math.Inf(-1)
	for _, k := range r.Kills {
		x := f.sx.at(k.Offset.Seconds())
		m := plotMark{X: x, Y1: counts.Top, Y2: f.AxisY, LabelY: counts.Top - 7, Color: colKill,
			Title: fmt.Sprintf("kill at %s s, pid %d", fmtSeconds(k.Offset), k.PID)}
		if float64(x)-lastLabel >= 28 {
			m.Label, lastLabel = "kill", float64(x)
		}
		f.Marks = append(f.Marks, m)
	}
	if len(r.Kills) > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("kill (%d)", len(r.Kills)), Color: colKill, Kind: "line", Width: "1.5", Dash: "5 4"})
	}
	return f
}

// failuresFigure plots the endpoint's failures by kind as stacked bars,
// the request rate and the Retry-After violations; nil without a series.
func (r *Result) failuresFigure(end float64) *plotFigure {
	series := r.Endpoint.Series
	if len(series) == 0 {
		return nil
	}
	f := newFigure(end, 18, 240, 100)
	bars, rate := f.Panels[0], f.Panels[1]
	width, shift := r.bucketWidth(), r.endpointShift()

	// Sum adjacent buckets into at most reportMaxBars groups.
	type group struct {
		from, to time.Duration
		requests int
		failures map[string]int
		total    int
	}
	per := (len(series) + reportMaxBars - 1) / reportMaxBars
	var groups []group
	totals := map[string]int{}
	for i := 0; i < len(series); i += per {
		g := group{from: series[i].Offset + shift, failures: map[string]int{}}
		for _, b := range series[i:min(i+per, len(series))] {
			g.to = b.Offset + width + shift
			g.requests += b.Requests
			for k, n := range b.Failures {
				g.failures[k] += n
				g.total += n
				totals[k] += n
			}
		}
		groups = append(groups, g)
	}
	secs := func(g group) float64 {
		if s := (g.to - g.from).Seconds(); s > 0 {
			return s
		}
		return 1
	}
	hi, rhi := 0.0, 0.0
	for _, g := range groups {
		hi = max(hi, float64(g.total)/secs(g))
		rhi = max(rhi, float64(g.requests)/secs(g))
	}
	kinds := slices.Sorted(maps.Keys(totals))
	colour := func(i int) string { return kindColours[i%len(kindColours)] }

	sy := bars.yAxis("failures/s", hi, 6, false)
	ry := rate.yAxis("requests/s", rhi, 3, false)
	var requests polypath
	for _, g := range groups {
		x0, x1 := f.sx.at(g.from.Seconds()), f.sx.at(g.to.Seconds())
		x := (x0 + x1) / 2
		requests.to(x, ry.at(float64(g.requests)/secs(g)))
		if g.total == 0 {
			continue
		}
		if x1-x0 > 4 {
			x0, x1 = x0+0.5, x1-0.5 // a hairline between bars
		}
		bg := barGroup{Title: fmt.Sprintf("%s–%s s: %d requests", fmtSeconds(g.from), fmtSeconds(g.to), g.requests)}
		sum := 0.0
		for i, k := range kinds {
			n := g.failures[k]
			if n == 0 {
				continue
			}
			bg.Title += fmt.Sprintf(", %s %d", k, n)
			lo := sy.at(sum / secs(g))
			sum += float64(n)
			top := sy.at(sum / secs(g))
			bg.Boxes = append(bg.Boxes, svgBox{X: x0, Y: top, W: max(x1-x0, 0.5), H: lo - top, Color: colour(i)})
		}
		bars.Bars = append(bars.Bars, bg)
	}
	rate.Lines = append(rate.Lines, polyline{D: requests.String(), Color: colRequests, Width: "1.5", Dash: "none"})
	if len(kinds) == 0 {
		bars.Note = "no failures"
	}
	for i, k := range kinds {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("%s (%s)", k, fmtCount(totals[k])), Color: colour(i), Kind: "box"})
	}
	f.Legend = append(f.Legend, legendEntry{Label: "requests/s", Color: colRequests, Kind: "line", Width: "1.5", Dash: "none"})

	for _, v := range r.Endpoint.Violations {
		x := f.sx.at(r.offsetOf(v.At).Seconds())
		f.Violations = append(f.Violations, polyline{D: fmt.Sprintf("M%s %sh9l-4.5 8z", x-4.5, bars.Top+1), Color: colViolation})
	}
	if n := len(r.Endpoint.Violations); n > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("Retry-After violation (%d)", n), Color: colViolation, Kind: "tri"})
	}
	return f
}

// fmtSeconds formats d in seconds with millisecond precision.
func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// fmtCount formats n with thousands separators.
func fmtCount(n int) string {
	if n < 0 {
		return "-" + fmtCount64(uint64(-n))
	}
	return fmtCount64(uint64(n))
}

// fmtCount64 formats n with thousands separators.
func fmtCount64(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtPercent is n as a percentage of of, followed by what; "" if of is 0.
func fmtPercent(n, of int, what string) string {
	if of <= 0 {
		return ""
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "% " + what
}

// fmtOrDash is s, or a dash if it is empty.
func fmtOrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// reportHTML is the page's template, report.html.tmpl. It is written as
// well-formed XML (void elements closed, no named entities) so that the
// page can be checked as such.
//
//go:embed report.html.tmpl
var reportHTML string

// reportTemplate is reportHTML parsed. The file's final newline is not
// part of the page.
var reportTemplate = template.Must(template.New("report").Parse(strings.TrimSuffix(reportHTML, "\n")))
