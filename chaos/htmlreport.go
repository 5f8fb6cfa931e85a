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

// Colours of the gates and of the partial successes.
const (
	colGateBand   = "#e4ebf6" // the shipper's gate, behind the delivery lines
	colGate       = "#5b7fbf" // the shipper's gate, in its lane
	colRetryAfter = "#f0a030" // a Retry-After the endpoint gave
	colPartial    = "#2ca25f" // 206 with items accepted
	colDelayed    = "#9e6ac8" // records waiting a retry delay
)

// kindColours gives every outcome label the endpoint records (a
// fakeingest.Fault and its status) a colour of its own, in families: whole
// request statuses in reds (5xx) and browns (4xx), throttling in oranges
// and yellows, lost or damaged answers in purples and magentas, outages in
// greys, redirects in teals, a wrong endpoint in blues, poison and
// per-item refusals in greens. No two labels share a colour (a test checks
// it); a label not listed gets an unused one of fallbackColours.
var kindColours = map[string]string{
	"status_500": "#d62728", "status_502": "#ff9896", "status_503": "#9e0142", "status_504": "#f46d43",
	"status_408": "#fb9a99", "status_400": "#8c510a", "status_401": "#bf812d", "status_402": "#dfc27d",
	"status_403": "#543005", "status_404": "#c49c94", "status_405": "#8c564b", "status_409": "#e0b69a",
	"status_429": "#fec44f", "status_439": "#fe9929",
	"throttle_429": "#ff7f0e", "throttle_439": "#ffbb78",
	"throttle_window_429": "#e6ab02", "throttle_window_439": "#a6761d",
	"reset": "#9467bd", "reset_after_accept": "#c5b0d5", "hang": "#6a3d9a", "client_gone": "#cab2d6",
	"truncate_200": "#5e3c99", "truncate_206": "#b2abd2", "truncate_400": "#3f007d",
	"garbage_200": "#e7298a", "garbage_206": "#f1b6da", "garbage_400": "#ae017e",
	"outage_refused": "#252525", "outage_503": "#969696",
	"redirect_307": "#17becf", "redirect_308": "#9edae5",
	"wrong_endpoint_404": "#1f77b4", "wrong_endpoint_405": "#6baed6", "wrong_endpoint_200": "#08306b",
	"poison_500": "#1b7837", "poison_400": "#5aae61", "poison_502": "#00441b", "poison_503": "#a6dba0",
	"ok_206": "#b8e186", "ok_400": "#4d9221",
	"bad_body_400": "#bcbd22", "bad_body_413": "#dbdb8d", "bad_body_415": "#8c8c00",
	"not_track_404": "#7f7f7f", "not_track_405": "#c7c7c7",
}

// fallbackColours colour the labels kindColours does not list.
var fallbackColours = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
	"#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#66c2a5", "#fc8d62",
}

// colourKinds gives each label of kinds (sorted) its colour: its own from
// kindColours, else the first fallback colour no other label of kinds
// has.
func colourKinds(kinds []string) map[string]string {
	out := make(map[string]string, len(kinds))
	used := map[string]bool{}
	for _, k := range kinds {
		if c, ok := kindColours[k]; ok {
			out[k], used[c] = c, true
		}
	}
	next := 0
	for _, k := range kinds {
		if _, ok := out[k]; ok {
			continue
		}
		c := fallbackColours[next%len(fallbackColours)]
		for i := 0; i < len(fallbackColours) && used[c]; i++ {
			next++
			c = fallbackColours[next%len(fallbackColours)]
		}
		next++
		out[k], used[c] = c, true
	}
	return out
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
	f := newFigure(end, 28, 270, 110, gateLanes*gateLane)
	samples := slices.Clone(r.Samples)
	slices.SortStableFunc(samples, func(a, b Sample) int { return cmp.Compare(a.Offset, b.Offset) })

	counts, queue, lanes := f.Panels[0], f.Panels[1], f.Panels[2]
	r.drawGates(f, counts, lanes, samples)
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
	var acked, delivered, queued, delayed polypath
	anyDelayed := false
	for i, s := range samples {
		x := f.sx.at(s.Offset.Seconds())
		acked.to(x, sy.at(float64(s.Acknowledged)))
		delivered.to(x, sy.at(float64(s.Delivered)))
		if s.Queued < 0 {
			queued.lift()
			delayed.lift()
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
		delayed.to(x, qy.at(float64(s.Delayed)))
		anyDelayed = anyDelayed || s.Delayed > 0
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
		if anyDelayed {
			queue.Lines = append(queue.Lines, polyline{D: delayed.String(), Color: colDelayed, Width: "1.5", Dash: "4 3"})
			f.Legend = append(f.Legend, legendEntry{Label: "of which waiting a retry delay", Color: colDelayed, Kind: "line", Width: "1.5", Dash: "4 3"})
		}
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
		partial  int
		failures map[string]int
		total    int
	}
	per := (len(series) + reportMaxBars - 1) / reportMaxBars
	var groups []group
	partials := 0
	totals := map[string]int{}
	for i := 0; i < len(series); i += per {
		g := group{from: series[i].Offset + shift, failures: map[string]int{}}
		for _, b := range series[i:min(i+per, len(series))] {
			g.to = b.Offset + width + shift
			g.requests += b.Requests
			g.partial += b.PartialSuccesses
			partials += b.PartialSuccesses
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
	colours := colourKinds(kinds)

	sy := bars.yAxis("failures/s", hi, 6, false)
	ry := rate.yAxis("requests/s", rhi, 3, false)
	var requests, partial polypath
	for _, g := range groups {
		x0, x1 := f.sx.at(g.from.Seconds()), f.sx.at(g.to.Seconds())
		x := (x0 + x1) / 2
		requests.to(x, ry.at(float64(g.requests)/secs(g)))
		partial.to(x, ry.at(float64(g.partial)/secs(g)))
		if g.total == 0 {
			continue
		}
		if x1-x0 > 4 {
			x0, x1 = x0+0.5, x1-0.5 // a hairline between bars
		}
		bg := barGroup{Title: fmt.Sprintf("%s–%s s: %d requests", fmtSeconds(g.from), fmtSeconds(g.to), g.requests)}
		sum := 0.0
		for _, k := range kinds {
			n := g.failures[k]
			if n == 0 {
				continue
			}
			bg.Title += fmt.Sprintf(", %s %d", k, n)
			lo := sy.at(sum / secs(g))
			sum += float64(n)
			top := sy.at(sum / secs(g))
			bg.Boxes = append(bg.Boxes, svgBox{X: x0, Y: top, W: max(x1-x0, 0.5), H: lo - top, Color: colours[k]})
		}
		if g.partial > 0 {
			bg.Title += fmt.Sprintf(" (and %d partial successes, not failures)", g.partial)
		}
		bars.Bars = append(bars.Bars, bg)
	}
	rate.Lines = append(rate.Lines, polyline{D: requests.String(), Color: colRequests, Width: "1.5", Dash: "none"})
	if partials > 0 {
		rate.Lines = append(rate.Lines, polyline{D: partial.String(), Color: colPartial, Width: "1.5", Dash: "4 3"})
	}
	if len(kinds) == 0 {
		bars.Note = "no failures"
	}
	for _, k := range kinds {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("%s (%s)", k, fmtCount(totals[k])), Color: colours[k], Kind: "box"})
	}
	f.Legend = append(f.Legend, legendEntry{Label: "requests/s", Color: colRequests, Kind: "line", Width: "1.5", Dash: "none"})
	if partials > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("partial successes/s: 206 with items accepted, not failures (%s)", fmtCount(partials)),
			Color: colPartial, Kind: "line", Width: "1.5", Dash: "4 3"})
	}

	for _, v := range r.Endpoint.Violations {
		x := f.sx.at(r.offsetOf(v.At).Seconds())
		f.Violations = append(f.Violations, polyline{D: fmt.Sprintf("M%s %sh9l-4.5 8z", x-4.5, bars.Top+1), Color: colViolation})
	}
	if n := len(r.Endpoint.Violations); n > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("Retry-After violation (%d)", n), Color: colViolation, Kind: "tri"})
	}
	return f
}

// Geometry of the gates panel: one lane for the Retry-After windows the
// endpoint gave, one for the shipper's gate.
const (
	gateLanes = 2
	gateLane  = 16.0
)

// span is a period of the time axis, since the run started.
type span struct{ from, to time.Duration }

// shipperGates returns the periods during which the shipper's gate
// (back-off or Retry-After) was closed, from the sampled throttled-until
// times: a gate first seen at a sample counts from the sample before it
// (it was armed in between), so a gate is drawn at most a sample interval
// early, never short.
func shipperGates(samples []Sample) []span {
	var out []span
	var prev, prevUntil time.Duration
	for _, s := range samples {
		u := s.ThrottledUntil
		if u != prevUntil && u > prev {
			from := prev
			if n := len(out); n > 0 && out[n-1].to >= from {
				out[n-1].to = max(out[n-1].to, u)
			} else {
				out = append(out, span{from, u})
			}
		}
		prev, prevUntil = s.Offset, u
	}
	return out
}

// drawGates shades the shipper's gates behind the delivery lines of counts,
// and draws them with the endpoint's Retry-After windows in the lanes
// panel: a reader sees why delivery sat flat.
func (r *Result) drawGates(f *plotFigure, counts, lanes *plotPanel, samples []Sample) {
	ra, gate := lanes.Top+2, lanes.Top+gateLane+2
	lanes.YTicks = []axisTick{{Pos: ra + (gateLane-4)/2, Label: "Retry-After"}, {Pos: gate + (gateLane-4)/2, Label: "gate"}}
	lanes.NoGrid = true
	lanes.YLabelAt = fmt.Sprintf("translate(20 %s) rotate(-90)", (lanes.Top+lanes.Bottom)/2)
	box := func(p *plotPanel, from, to time.Duration, y, h px, colour, title string) {
		x0, x1 := f.sx.at(from.Seconds()), f.sx.at(to.Seconds())
		if x1 <= x0 {
			return
		}
		p.Bands = append(p.Bands, svgBox{X: x0, Y: y, W: max(x1-x0, 1), H: h, Color: colour, Title: title})
	}
	gates := shipperGates(samples)
	for _, g := range gates {
		title := fmt.Sprintf("the shipper's gate closed %s–%s s (back-off or Retry-After)", fmtSeconds(g.from), fmtSeconds(g.to))
		box(counts, g.from, g.to, counts.Top, counts.Bottom-counts.Top, colGateBand, title)
		box(lanes, g.from, g.to, gate, gateLane-4, colGate, title)
	}
	for _, w := range r.Endpoint.RetryAfters {
		from, to := r.offsetOf(w.Given), r.offsetOf(w.Until)
		box(lanes, from, to, ra, gateLane-4, colRetryAfter,
			fmt.Sprintf("Retry-After given on %s at %s s, until %s s", w.Listener, fmtSeconds(from), fmtSeconds(to)))
	}
	if len(gates) > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("the shipper's gate: back-off or Retry-After (%d)", len(gates)), Color: colGate, Kind: "box"})
	}
	if n := len(r.Endpoint.RetryAfters); n > 0 {
		f.Legend = append(f.Legend, legendEntry{Label: fmt.Sprintf("Retry-After given by the endpoint (%d)", n), Color: colRetryAfter, Kind: "box"})
	}
	if len(gates) == 0 && len(r.Endpoint.RetryAfters) == 0 {
		lanes.Note = "no gate closed"
		lanes.NoteY = (lanes.Top + lanes.Bottom) / 2
		lanes.NoteX = (f.X0 + f.X1) / 2
	}
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
