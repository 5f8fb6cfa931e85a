package chaos

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The SVG plotting kit of the HTML report: figures of panels stacked over a
// shared time axis, linear scales, round axis ticks and path data. The
// figures it lays out are drawn by the "figure" template of
// report.html.tmpl.

// Geometry of the plots, in SVG user units (pixels at 100%).
const (
	figW      = 1100.0
	marginL   = 78.0
	marginR   = 24.0
	panelGap  = 30.0
	axisSpace = 46.0 // below the last panel: tick labels and axis title
)

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
	NoGrid      bool   // the y ticks label lanes: no grid lines
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

// svgBox is a filled rectangle; Title, if set, is its tooltip.
type svgBox struct {
	X, Y, W, H px
	Color      string
	Title      string
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
