package sender

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"sync"
)

// maxStrikes bounds the poison table: poison items are rare, and a table
// that fills up is cleared (an item then needs its strikes again).
const maxStrikes = 4096

// strikes counts, per item content, how often an item failed alone while
// requests without it succeeded. It lives in memory: a restart forgets it,
// and an item then needs PoisonAttempts strikes again before it is dropped.
type strikes struct {
	mu   sync.Mutex
	seed maphash.Seed
	n    map[uint64]strikeCount
}

// strikeCount is an item's strikes, and how many requests to the endpoint
// had succeeded when it last failed alone.
type strikeCount struct {
	n  int
	ok uint64
}

func newStrikes() *strikes {
	return &strikes{seed: maphash.MakeSeed(), n: make(map[uint64]strikeCount)}
}

// strike counts one more failure of data alone, when ok requests to the
// endpoint had succeeded, and returns the count.
func (p *strikes) strike(data []byte, ok uint64) int {
	k := maphash.Bytes(p.seed, data)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.n) >= maxStrikes {
		clear(p.n)
	}
	c := p.n[k]
	c.n++
	c.ok = ok
	p.n[k] = c
	return c.n
}

// suspect judges a failure of a request that held data only, when ok
// requests to the endpoint had succeeded: it is evidence against data (a
// strike is due) if data has a strike already (requests without it
// succeeded while it failed, as an isolation found), or if requests
// succeeded since data last failed alone. An outage met by one-item
// requests is no such evidence: nothing succeeds between their failures.
// suspect remembers ok either way.
func (p *strikes) suspect(data []byte, ok uint64) bool {
	k := maphash.Bytes(p.seed, data)
	p.mu.Lock()
	defer p.mu.Unlock()
	c, seen := p.n[k]
	if seen && (c.n > 0 || ok > c.ok) {
		return true
	}
	if len(p.n) >= maxStrikes {
		clear(p.n)
	}
	c.ok = ok
	p.n[k] = c
	return false
}

// forget removes data's count (it was dropped).
func (p *strikes) forget(data []byte) {
	k := maphash.Bytes(p.seed, data)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.n, k)
}

// envelopeType returns an envelope's type for logs: its data.baseType, else
// its name, else "unknown". It never returns content.
func envelopeType(line []byte) string {
	var env struct {
		Name string `json:"name"`
		Data struct {
			BaseType string `json:"baseType"`
		} `json:"data"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &env); err != nil {
		return "unknown (not JSON)"
	}
	t := env.Data.BaseType
	if t == "" {
		t = env.Name
	}
	if t == "" || len(t) > 128 {
		return "unknown"
	}
	return t
}
