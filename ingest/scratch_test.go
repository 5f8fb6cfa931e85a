package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/aispool/aispool/internal/breeze"
)

// TestScratchMemoryIsCharged: a pooled scratch keeps the item memory of
// the requests it served; whoever takes it next holds that memory from
// its first byte, so it is charged to the budget then (a slow client
// holding a well-stocked scratch holds no memory the budget does not
// see), the items its decode writes there are not charged twice, and a
// scratch keeping more than an eighth of the budget sheds it instead.
func TestScratchMemoryIsCharged(t *testing.T) {
	body := strings.Join(envs("stock", 400), "\n")
	stocked := func(t *testing.T) *scratch {
		t.Helper()
		sc := new(scratch)
		items, err := sc.bufs.DecodeLines(strings.NewReader(body), "", breeze.Limits{}.WithDefaults(), func(int64) error { return nil })
		if err != nil || len(items) != 400 {
			t.Fatalf("stocking decode: %d items, %v", len(items), err)
		}
		sc.recordSlice(400)
		sc.dataSlice(400)
		if sc.retained() < int64(len(body)) {
			t.Fatalf("a scratch that decoded %d bytes keeps %d", len(body), sc.retained())
		}
		return sc
	}
	for _, tc := range []struct {
		name   string
		budget int64
		shed   bool
	}{
		{"kept and charged", 64 << 20, false},
		{"shed under a small budget", 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, Config{MemoryBudget: tc.budget})
			sc := stocked(t)
			kept := sc.retained()
			mem := h.budget.lease(context.Background())
			defer mem.release()
			charge, err := h.takeScratch(mem, sc)
			if err != nil {
				t.Fatal(err)
			}
			want := decodeOverhead + kept
			if tc.shed {
				want = decodeOverhead
				if sc.retained() != 0 {
					t.Fatalf("scratch keeps %d bytes after shedding", sc.retained())
				}
			}
			if mem.held != want || h.budget.inUse() != want {
				t.Fatalf("held %d, budget in use %d; want %d (decode overhead %d, kept %d)", mem.held, h.budget.inUse(), want, decodeOverhead, kept)
			}
			// The decode of the same body again: its items fit the kept
			// memory, which was charged already.
			items, err := sc.bufs.DecodeLines(strings.NewReader(body), "", breeze.Limits{}.WithDefaults(), charge)
			if err != nil || len(items) != 400 {
				t.Fatalf("decode: %d items, %v", len(items), err)
			}
			if grew := mem.held - want; !tc.shed && grew > kept/2 {
				t.Fatalf("a decode into kept memory charged %d more bytes (kept %d)", grew, kept)
			} else if tc.shed && grew < int64(len(body)) {
				t.Fatalf("a decode into fresh memory charged %d bytes, body %d", grew, len(body))
			}
		})
	}
}

// TestPooledScratchHoldsOnlyRetained: a scratch back in the pool holds
// no references to the items of the request it served (its records, its
// append slice, the decode's Item slice): a large request's item memory,
// beyond what the scratch keeps and reports as retained (and is charged
// for to whoever takes it next), goes to the garbage collector, and does
// not stay reachable from the pool while the scratch waits or serves
// later, smaller requests.
func TestPooledScratchHoldsOnlyRetained(t *testing.T) {
	s := openSpool(t, nil)
	msg := strings.Repeat("m", 30_000)
	big := make([]string, 400) // 12 MB, few enough items for the scratch's slices to be kept
	for i := range big {
		big[i] = env(msg)
	}
	bigBody := strings.Join(big, "\n")
	serve := func(h *Handler, body string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v2.1/track", strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	heap := func() int64 {
		runtime.GC() // twice: pools keep their objects through one
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// The spool keeps its committer's buffer at its largest: grow it
	// first, through another handler.
	serve(newHandler(t, Config{Spool: s}), bigBody)
	h := newHandler(t, Config{Spool: s})
	base := heap()

	serve(h, bigBody)
	sc, _ := h.decoders.Get().(*scratch)
	if sc == nil {
		t.Skip("the pool handed back no scratch (moved to another P)")
	}
	for i, r := range sc.records[:cap(sc.records)] {
		if r.data != nil {
			t.Fatalf("pooled scratch's record %d of %d still refers to a served item", i, cap(sc.records))
		}
	}
	for i, d := range sc.data[:cap(sc.data)] {
		if d != nil {
			t.Fatalf("pooled scratch's append slice %d of %d still refers to a served item", i, cap(sc.data))
		}
	}
	h.decoders.Put(sc)

	serve(h, env("small"))
	sc, _ = h.decoders.Get().(*scratch)
	if sc == nil {
		t.Skip("the pool handed back no scratch (moved to another P)")
	}
	if held := heap() - base; held > sc.retained()+4<<20 {
		t.Errorf("after a 12 MB request and a small one, the handler holds %d bytes; its scratch reports %d retained", held, sc.retained())
	}
	runtime.KeepAlive(sc)
	runtime.KeepAlive(bigBody)
}
