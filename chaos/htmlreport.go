package chaos

import (
	"cmp"
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

// Geometry of the plots, in SVG user units (pixels at 100%).
const (
	figW      = 1100.0
	marginL   = 78.0
	marginR   = 24.0
	panelGap  = 30.0
	axisSpace = 46.0 // below the last panel: tick labels and axis title
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

// plotFigure is one SVG plot: panels stacked over a shared time axis.
type plotFigure struct {
	W, H       int
	X0, X1     px
	YTickX     px // right edge of the y tick labels
	Panels     []*plotPanel
	AxisY      px // the time axis, under the last panel
	XTicks     []axisTick
	XTickY     px
	XLabel     string
	XLabelX    px
	XLabelY    px
	XTickTo    px // lower end of the tick marks
	Marks      []plotMark
	Violations []polyline // marker shapes (filled)
	Legend     []legendEntry

	sx linScale
}

// plotPanel is one plot area of a plotFigure with its own y axis.
type plotPanel struct {
	Top, Bottom px
	YLabel      string
	YLabelAt    string // transform of the rotated y axis title
	YTicks      []axisTick
	Bands       []svgBox
	Bars        []barGroup
	Lines       []polyline
	Note        string // shown in the middle when there is nothing to plot
	NoteX       px
	NoteY       px
}

// axisTick is an axis tick at Pos (x or y) with its label.
type axisTick struct {
	Pos   px
	Label string
}

// polyline is an SVG path with its stroke.
type polyline struct {
	D, Color, Width, Dash string
}

// svgBox is a filled rectangle.
type svgBox struct {
	X, Y, W, H px
	Color      string
}

// barGroup is one stacked bar; Title is its tooltip.
type barGroup struct {
	Title string
	Boxes []svgBox
}

// plotMark is a vertical dashed line across every panel (a kill).
type plotMark struct {
	X, Y1, Y2 px
	Label     string // "" when too close to the previous label
	LabelY    px
	Title     string
	Color     string
}

// legendEntry is one entry of a plotFigure's legend; Kind is "line", "box" or
// "tri", Dash the line's dash array ("none" for a solid line).
type legendEntry struct {
	Label, Color, Kind, Width, Dash string
}

// px is an SVG coordinate; it prints with at most one decimal, and never as
// NaN or Inf.
type px float64

// String formats p for an SVG attribute.
func (p px) String() string {
	f := math.Round(float64(p)*10) / 10
	if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// linScale maps the domain [d0, d1] linearly onto the range [r0, r1].
type linScale struct{ d0, d1, r0, r1 float64 }

// at maps v, clamped to the domain.
func (s linScale) at(v float64) px {
	if !(s.d1 > s.d0) || math.IsNaN(v) {
		return px(s.r0)
	}
	v = min(max(v, s.d0), s.d1)
	return px(s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0))
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

// newFigure lays out panels of the given heights, top to bottom, starting
// at top, over a time axis from 0 to end seconds.
func newFigure(end float64, top float64, heights ...float64) *plotFigure {
	f := &plotFigure{
		W: int(figW), X0: marginL, X1: figW - marginR, YTickX: marginL - 8,
		XLabel: "seconds since start",
		sx:     linScale{0, end, marginL, figW - marginR},
	}
	y := top
	for i, h := range heights {
		if i > 0 {
			y += panelGap
		}
		f.Panels = append(f.Panels, &plotPanel{Top: px(y), Bottom: px(y + h)})
		y += h
	}
	f.AxisY, f.XTickTo, f.XTickY = px(y), px(y+5), px(y+19)
	f.XLabelX, f.XLabelY = px((marginL+figW-marginR)/2), px(y+38)
	f.H = int(y + axisSpace)
	values, step, _ := niceTicks(end, 12, false)
	labels := tickLabels(values, step)
	for i, t := range values {
		if t <= end*(1+1e-9) {
			f.XTicks = append(f.XTicks, axisTick{Pos: f.sx.at(t), Label: labels[i]})
		}
	}
	return f
}

// yAxis gives p a y axis from 0 to a round value at or above hi with about
// n ticks (integers only if integer), and returns its scale.
func (p *plotPanel) yAxis(label string, hi float64, n int, integer bool) linScale {
	values, step, top := niceTicks(hi, n, integer)
	s := linScale{0, top, float64(p.Bottom), float64(p.Top)}
	labels := tickLabels(values, step)
	for i, v := range values {
		p.YTicks = append(p.YTicks, axisTick{Pos: s.at(v), Label: labels[i]})
	}
	mid := (p.Top + p.Bottom) / 2
	p.YLabel, p.YLabelAt = label, fmt.Sprintf("translate(20 %s) rotate(-90)", mid)
	p.NoteX, p.NoteY = (marginL+figW-marginR)/2, mid
	return s
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

// polypath builds SVG path data of line segments through points; lift starts
// a new subpath, leaving a gap.
type polypath struct {
	subs [][]pathPoint
	down bool
}

// pathPoint is a point of a polypath.
type pathPoint struct{ x, y px }

// to draws a line to (x, y), or moves there first or after a lift.
func (p *polypath) to(x, y px) {
	if !p.down {
		p.subs = append(p.subs, nil)
		p.down = true
	}
	last := &p.subs[len(p.subs)-1]
	*last = append(*last, pathPoint{x, y})
}

// lift ends the current subpath.
func (p *polypath) lift() { p.down = false }

// String is the path data; a lone pathPoint becomes a dot (a zero-length
// segment, drawn with round caps).
func (p *polypath) String() string {
	var b strings.Builder
	for _, sub := range p.subs {
		for i, pt := range sub {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&b, "%s%s %s", cmd, pt.x, pt.y)
		}
		if len(sub) == 1 {
			b.WriteString("h0")
		}
	}
	return b.String()
}

// niceTicks returns round tick values from 0 to top, the first round value
// at or above hi, about n of them (steps of 1, 2 or 5 times a power of ten;
// whole numbers if integer), and the step.
func niceTicks(hi float64, n int, integer bool) (values []float64, step, top float64) {
	if !(hi > 0) || math.IsInf(hi, 0) {
		hi = 1
	}
	raw := hi / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		step = mag
	case f <= 2:
		step = 2 * mag
	case f <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	if integer && step < 1 {
		step = 1
	}
	k := math.Ceil(hi/step - 1e-9)
	for i := 0.0; i <= k; i++ {
		values = append(values, i*step)
	}
	return values, step, k * step
}

// tickLabels formats tick values a step apart, in thousands ("25k") or
// millions ("1.5M") when the largest calls for it.
func tickLabels(values []float64, step float64) []string {
	unit, suffix := 1.0, ""
	if len(values) > 0 {
		switch top := values[len(values)-1]; {
		case top >= 1e7:
			unit, suffix = 1e6, "M"
		case top >= 1e4:
			unit, suffix = 1e3, "k"
		}
	}
	dec := 0
	if s := step / unit; s < 1 {
		dec = int(math.Ceil(-math.Log10(s) - 1e-9))
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strconv.FormatFloat(v/unit, 'f', dec, 64) + suffix
		if v == 0 {
			out[i] = "0"
		}
	}
	return out
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

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// reportHTML is the page. It is written as well-formed XML (void elements
// closed, no named entities) so that it can be checked as such.
const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body{margin:0;background:#f4f5f7;color:#1d2330;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1140px;margin:0 auto;padding:0 16px 40px}
header{display:flex;align-items:center;gap:28px;padding:22px 0 6px}
.verdict{font-size:64px;font-weight:800;letter-spacing:.05em;line-height:1;padding:14px 30px;border-radius:14px;color:#fff}
.pass .verdict{background:#1e8e3e}
.fail .verdict{background:#c5221f}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:17px;margin:0 0 10px}
.ident span{display:inline-block;margin-right:22px;color:#555}
.ident b{color:#1d2330}
.subtitle{margin:6px 0 0;font-weight:600}
.fail .subtitle{color:#c5221f}
section{background:#fff;border:1px solid #dfe2e6;border-radius:10px;padding:16px 20px;margin:16px 0}
.cols{display:flex;flex-wrap:wrap;gap:8px 56px}
table{border-collapse:collapse}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#666;text-align:left;padding:4px 16px 6px 0;border-bottom:1px solid #e3e6ea}
td{padding:4px 16px 4px 0;vertical-align:top;border-bottom:1px solid #f0f1f3}
td.n,td.r{text-align:right;font-variant-numeric:tabular-nums}
td.n{font-weight:600}
td.note{color:#6b7280}
tr.sub td:first-child{padding-left:18px;color:#555}
tr.bad td{color:#c5221f}
tr.failed td{background:#fdecea}
.badge{display:inline-block;min-width:38px;text-align:center;padding:1px 8px;border-radius:9px;font-size:12px;font-weight:700;color:#fff}
.ok{background:#1e8e3e}
.no{background:#c5221f}
.legend{display:flex;flex-wrap:wrap;gap:4px 20px;margin:0 0 6px 78px;font-size:13px}
.legend span{display:inline-flex;align-items:center;gap:6px}
svg.fig{display:block;max-width:100%;height:auto}
svg.fig text{font-size:12px;fill:#4a5160}
svg.fig .yt{text-anchor:end;dominant-baseline:middle}
svg.fig .xt,svg.fig .yl,svg.fig .xl,svg.fig .note{text-anchor:middle}
svg.fig .yl,svg.fig .xl{font-weight:600;fill:#333}
svg.fig .note{fill:#999;font-size:14px}
svg.fig .kl{font-size:10px;fill:#c5221f;text-anchor:middle}
.empty{color:#777;font-style:italic}
.ids{columns:4 200px;margin:0;padding-left:20px;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
</style>
</head>
<body>
<main>
<header class="{{if .Pass}}pass{{else}}fail{{end}}">
<div class="verdict">{{if .Pass}}PASS{{else}}FAIL{{end}}</div>
<div class="ident">
<h1>aispool chaos run</h1>
<span>profile <b>{{.Profile}}</b></span><span>seed <b>{{.Seed}}</b></span><span>mode <b>{{.Mode}}</b></span><span>elapsed <b>{{.Elapsed}}</b></span><span>started <b>{{.Started}}</b></span>
<p class="subtitle">{{.Subtitle}}</p>
</div>
</header>

<section>
<div class="cols">
<div>
<h2>Summary</h2>
<table>
{{range .Summary}}<tr class="{{if .Sub}}sub{{end}}{{if .Bad}} bad{{end}}"><td>{{.Label}}</td><td class="n">{{.Value}}</td><td class="note">{{.Note}}</td></tr>
{{end}}</table>
</div>
<div>
<h2>Shipper counters</h2>
<table>
{{range .Shipper}}<tr><td>{{.Label}}</td><td class="n">{{.Value}}</td></tr>
{{end}}</table>
</div>
</div>
</section>

<section>
<h2>Checks</h2>
{{if .Checks}}<table>
<tr><th>check</th><th>verdict</th><th>detail</th></tr>
{{range .Checks}}<tr{{if not .Pass}} class="failed"{{end}}><td>{{.Name}}</td><td>{{if .Pass}}<span class="badge ok">pass</span>{{else}}<span class="badge no">FAIL</span>{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{else}}<p class="empty">No checks were run.</p>{{end}}
</section>

<section>
<h2>Delivery progress</h2>
{{with .Progress}}{{template "figure" .}}{{else}}<p class="empty">No samples were recorded.</p>{{end}}
</section>

<section>
<h2>Endpoint failures by kind</h2>
{{with .Failures}}{{template "figure" .}}{{else}}<p class="empty">The endpoint recorded no time series.</p>{{end}}
</section>

{{if .Violations}}<section>
<h2>Retry-After violations</h2>
<table>
<tr><th>at (s)</th><th>listener</th><th>from</th><th>early by</th><th>after the answer</th><th>via redirect</th></tr>
{{range .Violations}}<tr><td class="r">{{.At}}</td><td>{{.Listener}}</td><td><code>{{.Remote}}</code></td><td class="r">{{.Early}}</td><td class="r">{{.After}}</td><td>{{if .ViaRedirect}}yes{{else}}no{{end}}</td></tr>
{{end}}</table>
{{if .MoreViolations}}<p class="empty">… and {{.MoreViolations}} more.</p>{{end}}
{{if .Races}}<p class="empty">{{.Races}} early requests within the grace (races) are not listed.</p>{{end}}
</section>
{{end}}
{{if .Lost}}<section>
<h2>Lost ids</h2>
<ol class="ids">
{{range .Lost}}<li>{{.}}</li>
{{end}}</ol>
{{if .MoreLost}}<p class="empty">… and {{.MoreLost}} more.</p>{{end}}
</section>
{{end}}
</main>
</body>
</html>
{{define "figure"}}<div class="legend">{{range .Legend}}<span>{{template "swatch" .}}{{.Label}}</span>{{end}}</div>
<svg xmlns="http://www.w3.org/2000/svg" class="fig" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img">
{{range .Panels}}<g>
{{range .Bands}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"/>{{end}}
{{range .YTicks}}<line x1="{{$.X0}}" x2="{{$.X1}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#e6e8eb"/><text class="yt" x="{{$.YTickX}}" y="{{.Pos}}">{{.Label}}</text>
{{end}}{{$p := .}}{{range $.XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$p.Top}}" y2="{{$p.Bottom}}" stroke="#f0f1f3"/>{{end}}
<text class="yl" transform="{{.YLabelAt}}">{{.YLabel}}</text>
{{range .Bars}}<g><title>{{.Title}}</title>{{range .Boxes}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="{{.Color}}"/>{{end}}</g>
{{end}}{{range .Lines}}<path d="{{.D}}" fill="none" stroke="{{.Color}}" stroke-width="{{.Width}}" stroke-dasharray="{{.Dash}}" stroke-linejoin="round" stroke-linecap="round"/>
{{end}}{{if .Note}}<text class="note" x="{{.NoteX}}" y="{{.NoteY}}">{{.Note}}</text>{{end}}
<line x1="{{$.X0}}" x2="{{$.X0}}" y1="{{.Top}}" y2="{{.Bottom}}" stroke="#9aa0a8"/><line x1="{{$.X0}}" x2="{{$.X1}}" y1="{{.Bottom}}" y2="{{.Bottom}}" stroke="#9aa0a8"/>
</g>
{{end}}{{range .XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.AxisY}}" y2="{{$.XTickTo}}" stroke="#9aa0a8"/><text class="xt" x="{{.Pos}}" y="{{$.XTickY}}">{{.Label}}</text>
{{end}}<text class="xl" x="{{.XLabelX}}" y="{{.XLabelY}}">{{.XLabel}}</text>
{{range .Violations}}<path class="violation" d="{{.D}}" fill="{{.Color}}"><title>Retry-After violation</title></path>
{{end}}{{range .Marks}}<line class="kill" x1="{{.X}}" x2="{{.X}}" y1="{{.Y1}}" y2="{{.Y2}}" stroke="{{.Color}}" stroke-width="1.2" stroke-opacity="0.8" stroke-dasharray="5 4"><title>{{.Title}}</title></line>{{if .Label}}<text class="kl" x="{{.X}}" y="{{.LabelY}}">{{.Label}}</text>{{end}}
{{end}}</svg>
{{end}}
{{define "swatch"}}<svg width="24" height="12" viewBox="0 0 24 12">{{if eq .Kind "box"}}<rect x="3" y="1" width="18" height="10" rx="2" fill="{{.Color}}"/>{{else if eq .Kind "tri"}}<path d="M7 2h10l-5 9z" fill="{{.Color}}"/>{{else}}<path d="M1 6H23" stroke="{{.Color}}" stroke-width="{{.Width}}" stroke-dasharray="{{.Dash}}"/>{{end}}</svg>{{end}}`
