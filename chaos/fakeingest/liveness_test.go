package fakeingest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
)

// TestWrongEndpointWindow: during a wrong-endpoint window nothing is
// accepted and every answer is one a client must read as "not the
// ingestion service": 404, 405, or 200 with an HTML page. Every item is
// to be kept; after the window the service is healthy.
func TestWrongEndpointWindow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode   string
		status int
	}{{"", 404}, {WrongEndpoint404, 404}, {WrongEndpoint405, 405}, {WrongEndpointHTML, 200}} {
		t.Run(strconv.Itoa(tc.status)+tc.mode, func(t *testing.T) {
			t.Parallel()
			e := startEndpoint(t, Config{Profile: only("wrong", func(p *Profile) {
				p.Windows = []Window{{Kind: WindowWrongEndpoint, Duration: Duration(600 * time.Millisecond), Mode: tc.mode}}
			})})
			c := newClient(t, 2*time.Second)
			a := post(t, c, e.URL()+"/v2.1/track", ndjson("w1", "w2"), true)
			if a.err != nil || a.status != tc.status {
				t.Fatalf("in the window: %d %v, want %d", a.status, a.err, tc.status)
			}
			if _, err := breeze.DecodeResponse(a.body); err == nil {
				t.Errorf("in the window the body %q is a track response", a.body)
			}
			if tc.mode == WrongEndpointHTML && !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q, want text/html", a.header.Get("Content-Type"))
			}
			// What the sender makes of it: keep everything, wrong endpoint.
			v := breeze.Classify(2, a.status, a.header, a.body, time.Now())
			if !v.WrongEndpoint || len(v.Retry) != 2 || len(v.Drop) != 0 {
				t.Errorf("the sender reads it as %+v, want a wrong endpoint keeping both items", v)
			}
			st := e.Stats()
			if st.Healthy || st.LastFault.IsZero() {
				t.Errorf("in the window: healthy %v, last fault %v", st.Healthy, st.LastFault)
			}
			time.Sleep(700 * time.Millisecond)
			if a := post(t, c, e.URL()+"/v2.1/track", ndjson("w1", "w2"), true); a.status != 200 {
				t.Fatalf("after the window: %d %v", a.status, a.err)
			}
			rep := e.Report()
			label := FaultWrongEndpoint.Outcome(tc.status)
			if rep.ByOutcome[label] != 1 || rep.IDs["w1"].Retriable != 1 || rep.IDs["w1"].Accepted != 1 || len(rep.Dropped) != 0 || !rep.Healthy {
				t.Errorf("report: outcomes %v, w1 %+v, dropped %v, healthy %v", rep.ByOutcome, rep.IDs["w1"], rep.Dropped, rep.Healthy)
			}
		})
	}
}

// TestPoisonFailsRequestsHoldingIt: a request holding an item marked
// poison fails as a whole; the same items without it are accepted.
func TestPoisonFailsRequestsHoldingIt(t *testing.T) {
	for _, status := range []int{0, 503, 400} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := startEndpoint(t, Config{Profile: only("poison", func(p *Profile) { p.Poison = Poison{Count: 1, Status: status} })})
			want := status
			if want == 0 {
				want = 500
			}
			c := newClient(t, 2*time.Second)
			body := append(ndjson("a", "b"), append(Envelope("bad", WithPoison()), '\n')...)
			a := post(t, c, e.URL()+"/v2.1/track", body, true)
			if a.err != nil || a.status != want {
				t.Fatalf("with the poison item: %d %v, want %d", a.status, a.err, want)
			}
			if r := decodeTrack(t, a.body); r.ItemsAccepted != 0 || len(r.Errors) != 0 {
				t.Errorf("answer %+v, want nothing accepted, no errors[]", r)
			}
			// The sender keeps everything and may isolate.
			if v := breeze.Classify(3, a.status, a.header, a.body, time.Now()); len(v.Retry) != 3 || !v.Isolate {
				t.Errorf("the sender reads it as %+v, want all kept, isolate", v)
			}
			if st := e.Stats(); !st.Healthy {
				t.Errorf("a poison item does not make the endpoint unhealthy")
			}
			if a := post(t, c, e.URL()+"/v2.1/track", ndjson("a", "b"), true); a.status != 200 {
				t.Fatalf("without it: %d %v", a.status, a.err)
			}
			rep := e.Report()
			if rep.ByOutcome[FaultPoison.Outcome(want)] != 1 || rep.IDs["bad"].Poison != 1 || rep.IDs["bad"].Retriable != 1 ||
				rep.IDs["a"].Poison != 0 || rep.IDs["a"].Accepted != 1 || rep.IDs["a"].Retriable != 1 {
				t.Errorf("report: %v, bad %+v, a %+v", rep.ByOutcome, rep.IDs["bad"], rep.IDs["a"])
			}
		})
	}
	// Without a poison section the mark means nothing.
	e := startEndpoint(t, Config{})
	if a := post(t, newClient(t, 2*time.Second), e.URL()+"/v2.1/track", append(Envelope("bad", WithPoison()), '\n'), true); a.status != 200 {
		t.Fatalf("no poison in the profile: %d %v", a.status, a.err)
	}
	if _, err := New(Config{Bodies: CountBodies, Profile: only("p", func(p *Profile) { p.Poison.Count = 1 })}); err == nil {
		t.Errorf("CountBodies cannot find poison items: want an error")
	}
	if _, err := New(Config{Bodies: CountBodies, Profile: only("p", func(p *Profile) {
		p.Script = []Step{{Status: 206, ItemErrorRate: 0.5}}
	})}); err == nil {
		t.Errorf("CountBodies cannot answer a scripted 206: want an error")
	}
}

// TestScriptAnswersInOrder: the script answers the first requests in order,
// then the rest of the profile applies.
func TestScriptAnswersInOrder(t *testing.T) {
	e := startEndpoint(t, Config{Seed: 3, RetryAfterGrace: -1, Profile: only("script", func(p *Profile) {
		p.Script = []Step{
			{Status: 503, Count: 2},
			{Status: 439, RetryAfter: 1},
			{Status: 429},
			{Status: 206, Count: 2, ItemErrorRate: 0.5},
			{Status: 200},
			{Status: 206, ItemErrorRate: 1, ItemCode: 400},
		}
		p.Statuses = map[int]float64{502: 1}
	})})
	c := newClient(t, 2*time.Second)
	idList := ids("s", 100)
	type want struct {
		status int
		ra     string
	}
	for i, w := range []want{{503, ""}, {503, ""}, {439, "1"}, {429, ""}, {206, ""}, {206, ""}, {200, ""}, {400, ""}, {502, ""}} {
		if i == 3 {
			time.Sleep(1100 * time.Millisecond) // obey the Retry-After
		}
		a := post(t, c, e.URL()+"/v2.1/track", ndjson(idList...), true)
		if a.err != nil || a.status != w.status || a.header.Get("Retry-After") != w.ra {
			t.Fatalf("request %d: %d %v Retry-After %q, want %d %q", i, a.status, a.err, a.header.Get("Retry-After"), w.status, w.ra)
		}
		if w.status == 206 {
			r := decodeTrack(t, a.body)
			if len(r.Errors) < 30 || len(r.Errors) > 70 {
				t.Errorf("request %d: %d of 100 items refused, want about half", i, len(r.Errors))
			}
			for _, ie := range r.Errors {
				if ie.StatusCode != 429 {
					t.Fatalf("request %d: per-item code %d, want 429 (the default)", i, ie.StatusCode)
				}
			}
		}
	}
	rep := e.Report()
	if rep.ByOutcome["status_503"] != 2 || rep.ByOutcome["throttle_439"] != 1 || rep.ByOutcome["status_429"] != 1 ||
		rep.ByOutcome["ok_206"] != 2 || rep.ByOutcome["ok_400"] != 1 || rep.PartialSuccesses != 2 || rep.RetryAfterViolations != 0 {
		t.Errorf("outcomes %v, partial successes %d, violations %d", rep.ByOutcome, rep.PartialSuccesses, rep.RetryAfterViolations)
	}
	if rep.Dropped["status_400"] == 0 {
		t.Errorf("the scripted permanent per-item code dropped nothing: %v", rep.Dropped)
	}
}

// TestLivenessRecords: what the chaos verifier reads to judge liveness:
// the endpoint's health, its requests in flight, its last fault and last
// new delivery, partial successes kept out of the failures, and the
// Retry-After periods it gave.
func TestLivenessRecords(t *testing.T) {
	e := startEndpoint(t, Config{Seed: 1, RetryAfterGrace: -1, Profile: only("l", func(p *Profile) {
		p.Script = []Step{
			{Status: 200},
			{Status: 503},
			{Status: 206, ItemErrorRate: 0.5},
			{Status: 429, RetryAfter: 1},
			{Status: 429, RetryAfter: 1},
			{Status: 200},
		}
		p.Latency = Latency{Probability: 1, Min: Duration(300 * time.Millisecond), Max: Duration(300 * time.Millisecond)}
	})})
	if st := e.Stats(); !st.Healthy || !st.LastFault.IsZero() || !st.LastAccepted.IsZero() {
		t.Fatalf("before any request: %+v", st)
	}
	c := newClient(t, 5*time.Second)
	done := make(chan answer, 1)
	go func() { done <- post(t, c, e.URL()+"/v2.1/track", ndjson("a"), true) }()
	time.Sleep(150 * time.Millisecond)
	if st := e.Stats(); st.InFlight != 1 {
		t.Errorf("a request held 300 ms: %d in flight, want 1", st.InFlight)
	}
	<-done
	st := e.Stats()
	if st.InFlight != 0 || !st.Healthy || st.LastAccepted.IsZero() || !st.LastFault.IsZero() {
		t.Fatalf("after a 200: %+v", st)
	}
	post(t, c, e.URL()+"/v2.1/track", ndjson("b"), true)
	if st := e.Stats(); st.Healthy || st.LastFault.IsZero() {
		t.Fatalf("after a 503: healthy %v, last fault %v", st.Healthy, st.LastFault)
	}
	a := post(t, c, e.URL()+"/v2.1/track", ndjson(ids("p", 40)...), true)
	if a.status != 206 {
		t.Fatalf("scripted 206: %d %v", a.status, a.err)
	}
	if st := e.Stats(); !st.Healthy || st.PartialSuccesses != 1 {
		t.Fatalf("a partial success is healthy: %+v", st)
	}
	post(t, c, e.URL()+"/v2.1/track", ndjson("c"), true) // 429, Retry-After: 1
	if st := e.Stats(); st.Healthy {
		t.Fatalf("while a Retry-After runs the endpoint is not healthy")
	}
	time.Sleep(400 * time.Millisecond)
	post(t, c, e.URL()+"/v2.1/track", ndjson("c"), true) // early, overlapping: merged
	time.Sleep(1100 * time.Millisecond)
	post(t, c, e.URL()+"/v2.1/track", ndjson("c"), true)
	rep := e.Report()
	if !rep.Healthy {
		t.Errorf("after the last 200 the endpoint is healthy")
	}
	if len(rep.RetryAfters) != 1 || rep.RetryAfters[0].Listener != "primary" ||
		rep.RetryAfters[0].Until.Sub(rep.RetryAfters[0].Given) < 1300*time.Millisecond {
		t.Errorf("Retry-After periods %+v, want one of about 1.7 s (two overlapping answers merged)", rep.RetryAfters)
	}
	failures, partial := 0, 0
	for _, b := range rep.Series {
		partial += b.PartialSuccesses
		for k, n := range b.Failures {
			if k == "ok_206" {
				t.Errorf("a partial success counted as a failure")
			}
			failures += n
		}
	}
	if partial != 1 || failures != 3 {
		t.Errorf("series: %d partial successes, %d failures; want 1 and 3 (503, 429, 429)", partial, failures)
	}
	if n := len(rep.Deliveries); n != 3 || rep.Deliveries[n-1].Accepted != rep.Accepted || !rep.Deliveries[n-1].At.Equal(rep.LastAccepted) ||
		rep.Deliveries[0].Accepted != 1 {
		t.Errorf("deliveries %+v: want a (a), the partial success's accepted items, c; accepted %d", rep.Deliveries, rep.Accepted)
	}
	if !rep.LastFault.Before(rep.LastAccepted) {
		t.Errorf("last fault %v, last new delivery %v: the final 200 delivered c last", rep.LastFault, rep.LastAccepted)
	}
}

// TestHealthAfterAWindow: after a fault window the endpoint is not healthy
// until it answers a request well again (a client has heard nothing good
// since the outage).
func TestHealthAfterAWindow(t *testing.T) {
	e := startEndpoint(t, Config{Profile: only("w", func(p *Profile) {
		p.Windows = []Window{{Kind: WindowOutage, Start: Duration(100 * time.Millisecond), Duration: Duration(200 * time.Millisecond), Mode: OutageRefuse}}
	})})
	if !e.Stats().Healthy {
		t.Fatal("unhealthy before the window")
	}
	time.Sleep(150 * time.Millisecond)
	if e.Stats().Healthy {
		t.Fatal("healthy during the window")
	}
	time.Sleep(250 * time.Millisecond)
	if e.Stats().Healthy {
		t.Fatal("healthy after the window without an answer since")
	}
	if a := post(t, newClient(t, 2*time.Second), e.URL()+"/v2.1/track", ndjson("x"), true); a.status != 200 {
		t.Fatalf("after the window: %d %v", a.status, a.err)
	}
	if !e.Stats().Healthy {
		t.Fatal("unhealthy after a 200")
	}
	c := compile(&Profile{Windows: []Window{{Kind: WindowOutage, Start: Duration(time.Second), Duration: Duration(time.Second), Every: Duration(10 * time.Second)}}})
	for _, tc := range []struct {
		from, to time.Duration
		want     bool
	}{
		{0, 500 * time.Millisecond, false},
		{0, 1500 * time.Millisecond, true},
		{500 * time.Millisecond, 2500 * time.Millisecond, true},
		{2500 * time.Millisecond, 3 * time.Second, false},
		{2500 * time.Millisecond, 11 * time.Second, true},
		{1500 * time.Millisecond, 1500 * time.Millisecond, true},
	} {
		if got := c.windowSince(tc.from, tc.to); got != tc.want {
			t.Errorf("windowSince(%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
