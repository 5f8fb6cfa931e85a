package envelope

import (
	"strconv"
	"strings"
)

// part is one piece of a composed field value: a string or an integer.
type part struct {
	s   string
	n   int64
	num bool
}

func (p part) empty() bool { return !p.num && p.s == "" }

// maxParts bounds the pieces of a composed value; the longest one is a
// rebuilt URL (scheme, "://", host, ":", port, "/", path, "?", query).
const maxParts = 10

// text is a field value composed of parts, so that values such as
// "GET /users/{id}" or "https://host:8080/path" are written straight into
// the output without building intermediate strings.
type text struct {
	p [maxParts]part
	n int
}

func (t *text) reset() { t.n = 0 }

func (t *text) addPart(p part) {
	if p.empty() || t.n == maxParts {
		return
	}
	t.p[t.n] = p
	t.n++
}

func (t *text) add(s string) { t.addPart(part{s: s}) }

func (t *text) empty() bool { return t.n == 0 }

// equal reports whether t and u hold the same parts.
func (t *text) equal(u *text) bool {
	if t.n != u.n {
		return false
	}
	for i := range t.n {
		if t.p[i] != u.p[i] {
			return false
		}
	}
	return true
}

// String returns the composed value. It allocates and is meant for the
// span processor and tests, not the encoding path.
func (t *text) String() string {
	if t.n == 1 && !t.p[0].num {
		return t.p[0].s
	}
	var b strings.Builder
	for i := 0; i < t.n; i++ {
		if t.p[i].num {
			b.WriteString(strconv.FormatInt(t.p[i].n, 10))
		} else {
			b.WriteString(t.p[i].s)
		}
	}
	return b.String()
}
