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
	n    map[uint64]int
}

func newStrikes() *strikes {
	return &strikes{seed: maphash.MakeSeed(), n: make(map[uint64]int)}
}

// strike counts one more failure of data alone and returns the count.
func (p *strikes) strike(data []byte) int {
	k := maphash.Bytes(p.seed, data)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.n) >= maxStrikes {
		clear(p.n)
	}
	p.n[k]++
	return p.n[k]
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
