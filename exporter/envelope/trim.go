package envelope

import "slices"

// trimState steers the re-encoding of an envelope that came out over
// MaxEnvelopeBytes.
type trimState struct {
	sizes []propSize // encoded size of each property written
	skip  []bool     // by property ordinal: leave out
	cap   int        // when > 0, every text field is cut to cap characters
}

type propSize struct{ ord, size int }

func (t *trimState) reset() {
	t.sizes = t.sizes[:0]
	t.skip = t.skip[:0]
	t.cap = 0
}

func (t *trimState) record(ord, size int) { t.sizes = append(t.sizes, propSize{ord, size}) }

func (t *trimState) skipped(ord int) bool { return ord < len(t.skip) && t.skip[ord] }

// shrink re-encodes the envelope at dst[start:] until it fits: first it
// drops the largest properties one by one; if the envelope is still too
// large without properties, it cuts the long text fields (message, stack,
// data, url) to ever shorter lengths. It reports false when even 256
// characters per field do not fit.
func (c *Converter) shrink(dst []byte, start int, it *item) ([]byte, bool) {
	t := &c.trim
	sizes := slices.Clone(t.sizes) // rare path: the re-encodes reuse t.sizes
	slices.SortFunc(sizes, func(a, b propSize) int { return b.size - a.size })
	maxOrd := -1
	for _, p := range sizes {
		maxOrd = max(maxOrd, p.ord)
	}
	t.skip = slices.Grow(t.skip[:0], maxOrd+1)[:maxOrd+1]
	clear(t.skip)

	excess := len(dst) - start - MaxEnvelopeBytes
	freed := 0
	for i, p := range sizes {
		t.skip[p.ord] = true
		freed += p.size
		if freed < excess && i < len(sizes)-1 {
			continue
		}
		t.sizes = t.sizes[:0]
		dst = c.appendEnvelope(dst[:start], it)
		if len(dst)-start <= MaxEnvelopeBytes {
			return dst, true
		}
		excess = len(dst) - start - MaxEnvelopeBytes
		freed = 0
	}
	for cap := 16384; cap >= 256; cap /= 2 {
		t.cap = cap
		t.sizes = t.sizes[:0]
		dst = c.appendEnvelope(dst[:start], it)
		if len(dst)-start <= MaxEnvelopeBytes {
			return dst, true
		}
	}
	return dst, false
}
