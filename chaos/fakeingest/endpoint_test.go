package fakeingest

import (
	"cmp"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/breeze"
	"github.com/aispool/aispool/internal/testkit"
)

// decodeTrack decodes a track answer, failing the test if it is not one.
func decodeTrack(t *testing.T, b []byte) breeze.TrackResponse {
	t.Helper()
	var r breeze.TrackResponse
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("answer %q is not a track response: %v", b, err)
	}
	return r
}

func TestHealthyAcceptsEveryBodyShape(t *testing.T) {
	e := startEndpoint(t, Config{})
	c := newClient(t, 5*time.Second)
	cases := []struct {
		name, path string
		body       []byte
		gz         bool
	}{
		{"ndjson gzip v2.1", "/v2.1/track", ndjson(ids("a", 3)...), true},
		{"ndjson plain v2", "/v2/track", ndjson(ids("b", 3)...), false},
		{"array gzip v2", "/v2/track", jsonArray(ids("c", 3)...), true},
		{"array plain v2.1 trailing slash", "/v2.1/track/", jsonArray(ids("d", 3)...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, c, e.URL()+tc.path, tc.body, tc.gz)
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("got %d %v, want 200", a.status, a.err)
			}
			r := decodeTrack(t, a.body)
			if r.ItemsReceived != 3 || r.ItemsAccepted != 3 || len(r.Errors) != 0 {
				t.Errorf("answer %+v, want 3 received, 3 accepted, no errors", r)
			}
		})
	}
	rep := e.Report()
	if rep.Accepted != 12 || rep.ItemsAccepted != 12 || rep.Duplicates != 0 || rep.ByOutcome["ok_200"] != 4 {
		t.Errorf("report %+v, want 12 accepted ids in 4 ok_200 requests", rep.Stats)
	}
	for _, id := range ids("d", 3) {
		if rep.IDs[id].Accepted != 1 {
			t.Errorf("id %s: %+v, want accepted once", id, rep.IDs[id])
		}
	}
	if u := rep.Unaccounted(append(ids("a", 3), "never-sent")); !slices.Equal(u, []string{"never-sent"}) {
		t.Errorf("Unaccounted = %v, want [never-sent]", u)
	}
}

func TestWholeRequestStatuses(t *testing.T) {
	for _, code := range []int{500, 502, 503, 504, 408, 401, 403, 402, 400, 404, 405, 409} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			e := startEndpoint(t, Config{Profile: only("status", func(p *Profile) {
				p.Statuses = map[int]float64{code: 1}
			})})
			c := newClient(t, 5*time.Second)
			idList := ids("s", 4)
			a := post(t, c, e.URL()+"/v2.1/track", ndjson(idList...), true)
			if a.err != nil || a.status != code {
				t.Fatalf("got %d %v, want %d", a.status, a.err, code)
			}
			if r := decodeTrack(t, a.body); r.ItemsReceived != 4 || r.ItemsAccepted != 0 || len(r.Errors) != 0 {
				t.Errorf("answer %+v, want 4 received, 0 accepted, no per-item errors", r)
			}
			rep := e.Report()
			keep := code != 402 && code != 409
			for _, id := range idList {
				s := rep.IDs[id]
				switch {
				case s.Accepted != 0:
					t.Errorf("id %s accepted: %+v", id, s)
				case keep && s.Retriable != 1:
					t.Errorf("id %s: %+v, want answered retriable once", id, s)
				case !keep && (s.Dropped != 1 || s.Reason != breeze.StatusReason(code)):
					t.Errorf("id %s: %+v, want dropped once as %s", id, s, breeze.StatusReason(code))
				}
			}
			if rep.ByOutcome["status_"+strconv.Itoa(code)] != 1 {
				t.Errorf("ByOutcome %v, want status_%d", rep.ByOutcome, code)
			}
		})
	}
}

func TestThrottleRetryAfter(t *testing.T) {
	cases := []struct {
		name string
		code int
		date float64
	}{
		{"429 seconds", 429, 0},
		{"439 seconds", 439, 0},
		{"429 HTTP date", 429, 1},
		{"439 HTTP date", 439, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startEndpoint(t, Config{Profile: only("throttle", func(p *Profile) {
				p.Throttle = Throttle{Probability: 1, Codes: []int{tc.code}, RetryAfter: RetryAfter{MinSeconds: 2, MaxSeconds: 2, HTTPDate: tc.date}}
			})})
			c := newClient(t, 5*time.Second)
			before := time.Now()
			a := post(t, c, e.URL()+"/v2.1/track", ndjson("x"), true)
			if a.err != nil || a.status != tc.code {
				t.Fatalf("got %d %v, want %d", a.status, a.err, tc.code)
			}
			ra := a.header.Get("Retry-After")
			if tc.date == 0 {
				if ra != "2" {
					t.Errorf("Retry-After %q, want \"2\"", ra)
				}
			} else {
				at, err := http.ParseTime(ra)
				if err != nil {
					t.Fatalf("Retry-After %q is not an HTTP date: %v", ra, err)
				}
				if d := at.Sub(before); d < 2*time.Second || d > 4*time.Second {
					t.Errorf("Retry-After date %v is %v ahead, want 2..4 s", at, d)
				}
			}
			if d, ok := breeze.ParseRetryAfter(ra, time.Now()); !ok || d < time.Second {
				t.Errorf("the sender reads Retry-After %q as %v, %v", ra, d, ok)
			}
			if got := e.Report().IDs["x"]; got.Retriable != 1 {
				t.Errorf("id x: %+v, want answered retriable", got)
			}
		})
	}
}

func TestPartialPerItemCodes(t *testing.T) {
	cases := []struct {
		name      string
		partial   Partial
		wantCodes []int
		sampled   bool
		status    int
	}{
		{"retriable", Partial{Probability: 1, ItemErrorRate: 1, Retriable: ptr[float64](1), Permanent: ptr[float64](0), SampledOut: ptr[float64](0)},
			[]int{408, 429, 439, 500, 502, 503, 504}, false, 206},
		{"permanent", Partial{Probability: 1, ItemErrorRate: 1, Retriable: ptr[float64](0), Permanent: ptr[float64](1), SampledOut: ptr[float64](0), PermanentCodes: []int{400, 404}},
			[]int{400, 404}, false, 400},
		{"sampled out", Partial{Probability: 1, ItemErrorRate: 1, Retriable: ptr[float64](0), Permanent: ptr[float64](0), SampledOut: ptr[float64](1)},
			[]int{206}, true, 400},
		{"mixed", Partial{Probability: 1, ItemErrorRate: 0.5},
			[]int{206, 400, 408, 429, 439, 500, 502, 503, 504}, false, 206},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startEndpoint(t, Config{Seed: 7, Profile: only("partial", func(p *Profile) { p.Partial = tc.partial })})
			c := newClient(t, 5*time.Second)
			idList := ids("p", 200)
			a := post(t, c, e.URL()+"/v2.1/track", ndjson(idList...), true)
			if a.err != nil || a.status != tc.status {
				t.Fatalf("got %d %v, want %d", a.status, a.err, tc.status)
			}
			r := decodeTrack(t, a.body)
			if r.ItemsReceived != 200 || r.ItemsAccepted+len(r.Errors) != 200 || len(r.Errors) == 0 {
				t.Fatalf("answer counts %d/%d with %d errors", r.ItemsReceived, r.ItemsAccepted, len(r.Errors))
			}
			rep := e.Report()
			seen := map[int]bool{}
			for _, ie := range r.Errors {
				seen[ie.StatusCode] = true
				if !slices.Contains(tc.wantCodes, ie.StatusCode) {
					t.Errorf("error %+v: code not in %v", ie, tc.wantCodes)
				}
				sampled := ie.Message == SampledOutMessage
				if sampled != (ie.StatusCode == 206) {
					t.Errorf("error %+v: sampled-out message iff code 206", ie)
				}
				s := rep.IDs[idList[ie.Index]]
				switch {
				case sampled && (s.Dropped != 1 || s.Reason != breeze.ReasonSampledOut):
					t.Errorf("id %s: %+v, want dropped as sampled_out", idList[ie.Index], s)
				case !sampled && RetriableItemCode(ie.StatusCode) && s.Retriable != 1:
					t.Errorf("id %s: %+v, want retriable", idList[ie.Index], s)
				case !sampled && !RetriableItemCode(ie.StatusCode) && s.Reason != breeze.StatusReason(ie.StatusCode):
					t.Errorf("id %s: %+v, want dropped as %s", idList[ie.Index], s, breeze.StatusReason(ie.StatusCode))
				}
			}
			if tc.name == "mixed" {
				if r.ItemsAccepted < 50 || len(seen) < 5 {
					t.Errorf("mixed: %d accepted, codes %v: want about half accepted and a mix of codes", r.ItemsAccepted, seen)
				}
				// The sender must read this answer as the endpoint
				// labelled it.
				v := breeze.Classify(200, a.status, a.header, a.body, time.Now())
				if len(v.Retry) != rep.RetriableItems {
					t.Errorf("sender keeps %d items, endpoint counted %d retriable", len(v.Retry), rep.RetriableItems)
				}
				for reason, idx := range v.Drop {
					if len(idx) != rep.Dropped[reason] {
						t.Errorf("sender drops %d as %s, endpoint counted %d", len(idx), reason, rep.Dropped[reason])
					}
				}
			} else if len(seen) != len(tc.wantCodes) {
				t.Errorf("codes seen %v, want all of %v", seen, tc.wantCodes)
			}
		})
	}
}

// isReset reports whether err says the connection was reset or closed
// before an answer.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection reset")
}

func TestLossyFaults(t *testing.T) {
	cases := []struct {
		name         string
		profile      *Profile
		timeout      time.Duration
		check        func(t *testing.T, a answer)
		accepted     bool // the items were accepted (answer lost)
		outcome      string
		minElapsedMs int64
	}{
		{
			name:    "reset mid-request",
			profile: only("reset", func(p *Profile) { p.Reset = 1 }),
			check: func(t *testing.T, a answer) {
				if a.err == nil || !isReset(a.err) {
					t.Errorf("got %d %v, want a reset connection", a.status, a.err)
				}
			},
			outcome: "reset",
		},
		{
			name:    "reset after accept",
			profile: only("rst", func(p *Profile) { p.ResetAfterAccept = 1 }),
			check: func(t *testing.T, a answer) {
				if a.err == nil || !isReset(a.err) {
					t.Errorf("got %d %v, want a reset connection", a.status, a.err)
				}
			},
			accepted: true,
			outcome:  "reset_after_accept",
		},
		{
			name:    "hang past the client's timeout",
			profile: only("hang", func(p *Profile) { p.Hang = Hang{Probability: 1, Duration: Duration(3 * time.Second)} }),
			timeout: 300 * time.Millisecond,
			check: func(t *testing.T, a answer) {
				var ne net.Error
				if a.err == nil || !errors.As(a.err, &ne) || !ne.Timeout() {
					t.Errorf("got %d %v, want a client timeout", a.status, a.err)
				}
			},
			accepted:     true,
			outcome:      "hang",
			minElapsedMs: 300,
		},
		{
			name:    "truncated body",
			profile: only("truncate", func(p *Profile) { p.Truncate = 1 }),
			check: func(t *testing.T, a answer) {
				if a.status != http.StatusOK || a.err == nil || !strings.Contains(a.err.Error(), "unexpected EOF") {
					t.Errorf("got %d %v, want 200 and an unexpected EOF reading the body", a.status, a.err)
				}
				if _, err := breeze.DecodeResponse(a.body); err == nil {
					t.Errorf("truncated body %q decodes", a.body)
				}
			},
			accepted: true,
			outcome:  "truncate_200",
		},
		{
			name:    "non-JSON body",
			profile: only("garbage", func(p *Profile) { p.Garbage = 1 }),
			check: func(t *testing.T, a answer) {
				if a.status != http.StatusOK || a.err != nil {
					t.Fatalf("got %d %v, want 200", a.status, a.err)
				}
				if _, err := breeze.DecodeResponse(a.body); err == nil {
					t.Errorf("garbage body %q decodes", a.body)
				}
			},
			accepted: true,
			outcome:  "garbage_200",
		},
		{
			name: "latency",
			profile: only("latency", func(p *Profile) {
				p.Latency = Latency{Probability: 1, Min: Duration(200 * time.Millisecond), Max: Duration(200 * time.Millisecond)}
			}),
			check: func(t *testing.T, a answer) {
				if a.status != http.StatusOK || a.err != nil {
					t.Errorf("got %d %v, want 200", a.status, a.err)
				}
			},
			accepted:     true,
			outcome:      "ok_200",
			minElapsedMs: 200,
		},
		{
			name: "latency past the client's timeout",
			profile: only("slow", func(p *Profile) {
				p.Latency = Latency{Probability: 1, Min: Duration(2 * time.Second), Max: Duration(2 * time.Second)}
			}),
			timeout: 200 * time.Millisecond,
			check: func(t *testing.T, a answer) {
				if a.err == nil {
					t.Errorf("got %d, want a client timeout", a.status)
				}
			},
			accepted: true,
			outcome:  "client_gone",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEndpoint(t, Config{Profile: tc.profile})
			c := newClient(t, cmp.Or(tc.timeout, 5*time.Second))
			start := time.Now()
			a := post(t, c, e.URL()+"/v2.1/track", ndjson(ids("l", 50)...), true)
			if el := time.Since(start); el.Milliseconds() < tc.minElapsedMs {
				t.Errorf("answered after %v, want at least %d ms", el, tc.minElapsedMs)
			}
			tc.check(t, a)
			// The endpoint records after the client's view; wait a bit
			// for client-side timeouts.
			var rep Report
			testkit.Poll(3*time.Second, 10*time.Millisecond, func() bool {
				rep = e.Report()
				return rep.Requests > 0
			})
			if rep.ByOutcome[tc.outcome] != 1 {
				t.Errorf("ByOutcome %v, want %s", rep.ByOutcome, tc.outcome)
			}
			lost := tc.outcome != "ok_200" && tc.outcome != "reset"
			for _, id := range ids("l", 50) {
				s := rep.IDs[id]
				switch {
				case tc.accepted && (s.Accepted != 1 || (s.AcceptedLost == 1) != lost):
					t.Fatalf("id %s: %+v, want accepted once, lost %v", id, s, lost)
				case !tc.accepted && s != (IDStats{}):
					t.Fatalf("id %s: %+v, want nothing recorded", id, s)
				}
			}
		})
	}
}

func TestRedirectFollowedToSecondListener(t *testing.T) {
	for _, code := range []int{307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			e := startEndpoint(t, Config{Profile: only("redirect", func(p *Profile) {
				p.Redirect = Redirect{Probability: 1, Codes: []int{code}, MaxAge: ptr(Duration(5 * time.Second))}
			})})
			if e.RedirectURL() == "" || e.RedirectURL() == e.URL() {
				t.Fatalf("RedirectURL %q, URL %q: want a second listener", e.RedirectURL(), e.URL())
			}
			// Without following: the 307/308 itself.
			raw := newClient(t, 5*time.Second)
			raw.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			a := post(t, raw, e.URL()+"/v2.1/track", ndjson("r0"), true)
			if a.status != code || a.header.Get("Location") != e.RedirectURL()+"/v2.1/track?chaosRedirect=0" || a.header.Get("Cache-Control") != "max-age=5" {
				t.Fatalf("got %d Location %q Cache-Control %q", a.status, a.header.Get("Location"), a.header.Get("Cache-Control"))
			}
			// A plain client follows to the second listener, which
			// never redirects.
			a = post(t, newClient(t, 5*time.Second), e.URL()+"/v2.1/track", ndjson("r1", "r2"), true)
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("followed: %d %v, want 200", a.status, a.err)
			}
			rep := e.Report()
			if rep.ByListener["primary"] != 2 || rep.ByListener["secondary"] != 1 || rep.ByOutcome["redirect_"+strconv.Itoa(code)] != 2 {
				t.Errorf("ByListener %v ByOutcome %v", rep.ByListener, rep.ByOutcome)
			}
			if rep.IDs["r1"].Accepted != 1 || rep.IDs["r2"].Accepted != 1 || rep.IDs["r0"].Accepted != 0 {
				t.Errorf("ids %v", rep.IDs)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	t.Parallel()
	t.Run("outage refuse", func(t *testing.T) {
		t.Parallel()
		e := startEndpoint(t, Config{Profile: only("outage", func(p *Profile) {
			p.Windows = []Window{{Kind: WindowOutage, Start: Duration(300 * time.Millisecond), Duration: Duration(600 * time.Millisecond), Mode: OutageRefuse}}
		})})
		c := newClient(t, 2*time.Second)
		if a := post(t, c, e.URL()+"/v2.1/track", ndjson("o1"), true); a.status != 200 {
			t.Fatalf("before the window: %d %v", a.status, a.err)
		}
		time.Sleep(450 * time.Millisecond)
		a := post(t, c, e.URL()+"/v2.1/track", ndjson("o2"), true)
		if a.err == nil {
			t.Fatalf("during the outage: %d, want an error", a.status)
		}
		// The open keep-alive connection was reset; a new one is refused.
		a = post(t, newClient(t, 2*time.Second), e.URL()+"/v2.1/track", ndjson("o2"), true)
		if a.err == nil || !errors.Is(a.err, syscall.ECONNREFUSED) {
			t.Fatalf("during the outage, a new connection: %d %v, want connection refused", a.status, a.err)
		}
		time.Sleep(600 * time.Millisecond)
		if a := post(t, c, e.URL()+"/v2.1/track", ndjson("o3"), true); a.status != 200 {
			t.Fatalf("after the window: %d %v", a.status, a.err)
		}
		if rep := e.Report(); rep.IDs["o2"] != (IDStats{}) || rep.Accepted != 2 {
			t.Errorf("report %+v", rep.IDs)
		}
	})
	t.Run("outage 503 with Retry-After", func(t *testing.T) {
		t.Parallel()
		e := startEndpoint(t, Config{Profile: only("outage", func(p *Profile) {
			p.Windows = []Window{{Kind: WindowOutage, Duration: Duration(2500 * time.Millisecond), Mode: Outage503, RetryAfter: true}}
		})})
		a := post(t, newClient(t, 2*time.Second), e.URL()+"/v2.1/track", ndjson("o"), true)
		if a.status != 503 || a.header.Get("Retry-After") != "3" {
			t.Fatalf("got %d Retry-After %q, want 503 and 3", a.status, a.header.Get("Retry-After"))
		}
		if e.Report().ByOutcome["outage_503"] != 1 {
			t.Errorf("ByOutcome %v", e.Report().ByOutcome)
		}
	})
	t.Run("throttle window", func(t *testing.T) {
		t.Parallel()
		e := startEndpoint(t, Config{Profile: only("throttle", func(p *Profile) {
			p.Windows = []Window{{Kind: WindowThrottle, Duration: Duration(1500 * time.Millisecond), Code: 439}}
		})})
		c := newClient(t, 2*time.Second)
		a := post(t, c, e.URL()+"/v2.1/track", ndjson("w"), true)
		if a.status != 439 || a.header.Get("Retry-After") != "2" {
			t.Fatalf("got %d Retry-After %q, want 439 and 2", a.status, a.header.Get("Retry-After"))
		}
		time.Sleep(2100 * time.Millisecond) // obey it
		if a := post(t, c, e.URL()+"/v2.1/track", ndjson("w"), true); a.status != 200 {
			t.Fatalf("after the window: %d %v", a.status, a.err)
		}
		rep := e.Report()
		if rep.ByOutcome["throttle_window_439"] != 1 || rep.RetryAfterViolations != 0 || rep.RetryAfterRaces != 0 {
			t.Errorf("report %+v", rep.Stats)
		}
	})
}

func TestWindowSchedule(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	w := Window{Kind: WindowOutage, Start: Duration(ms(100)), Duration: Duration(ms(50)), Every: Duration(ms(200))}
	cases := []struct {
		at     time.Duration
		on     bool
		end    time.Duration
		next   time.Duration
		hasNxt bool
	}{
		{0, false, 0, ms(100), true},
		{ms(100), true, ms(150), ms(100), true},
		{ms(149), true, ms(150), ms(150), true},
		{ms(150), false, 0, ms(150), true},
		{ms(151), false, 0, ms(300), true},
		{ms(310), true, ms(350), ms(350), true},
	}
	for _, tc := range cases {
		on, end := w.active(tc.at)
		if on != tc.on || (on && end != tc.end) {
			t.Errorf("active(%v) = %v, %v; want %v, %v", tc.at, on, end, tc.on, tc.end)
		}
		if next, ok := w.next(tc.at); ok != tc.hasNxt || next != tc.next {
			t.Errorf("next(%v) = %v, %v; want %v, %v", tc.at, next, ok, tc.next, tc.hasNxt)
		}
	}
	once := Window{Kind: WindowOutage, Start: Duration(ms(100)), Duration: Duration(ms(50))}
	if _, ok := once.next(ms(151)); ok {
		t.Errorf("a window without every has no transition after its end")
	}
	if on, _ := once.active(ms(400)); on {
		t.Errorf("a window without every is not active after its end")
	}
}

func TestDuplicatesExplainedOnlyByLostAnswers(t *testing.T) {
	e := startEndpoint(t, Config{})
	c := newClient(t, 5*time.Second)
	for i := range 3 {
		if a := post(t, c, e.URL()+"/v2.1/track", ndjson("dup", "once-"+strconv.Itoa(i)), true); a.status != 200 {
			t.Fatalf("got %d %v", a.status, a.err)
		}
	}
	rep := e.Report()
	if s := rep.IDs["dup"]; s.Accepted != 3 || rep.Duplicates != 1 || rep.DuplicateItems != 2 || rep.UnexplainedDuplicates != 1 {
		t.Errorf("dup %+v, stats %+v: want accepted 3 times, 1 duplicate id, 2 extra items, unexplained", s, rep.Stats)
	}

	// A lost answer explains one extra acceptance.
	e2 := startEndpoint(t, Config{Profile: only("rst", func(p *Profile) { p.ResetAfterAccept = 1 })})
	if a := post(t, newClient(t, 5*time.Second), e2.URL()+"/v2.1/track", ndjson("dup"), true); a.err == nil {
		t.Fatalf("want a reset")
	}
	// The shipper resends and gets an intact answer (recorded directly:
	// the endpoint's profile cannot change).
	e2.rec.request(time.Now(), "primary", "ok_200", false, []itemAnswer{{id: "dup", hasID: true, accepted: true}}, 0)
	rep = e2.Report()
	if s := rep.IDs["dup"]; s.Accepted != 2 || s.AcceptedLost != 1 || rep.Duplicates != 1 || rep.UnexplainedDuplicates != 0 {
		t.Errorf("dup %+v, stats %+v: want a duplicate explained by the lost answer", s, rep.Stats)
	}
}

func TestRetryAfterViolation(t *testing.T) {
	cases := []struct {
		name       string
		grace      time.Duration
		wait       time.Duration
		violations int
		races      int
	}{
		{"too early", -1, 300 * time.Millisecond, 1, 0},
		{"too early beyond the grace", 100 * time.Millisecond, 300 * time.Millisecond, 1, 0},
		{"within the grace (in flight)", 5 * time.Second, 10 * time.Millisecond, 0, 1},
		{"after Retry-After", -1, 2100 * time.Millisecond, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEndpoint(t, Config{RetryAfterGrace: tc.grace, Secondary: true, Profile: only("throttle", func(p *Profile) {
				p.Throttle = Throttle{Probability: 1, RetryAfter: RetryAfter{MinSeconds: 2}}
			})})
			c := newClient(t, 5*time.Second)
			a := post(t, c, e.URL()+"/v2.1/track", ndjson("v"), true)
			if a.status != 429 || a.header.Get("Retry-After") != "2" {
				t.Fatalf("got %d %q", a.status, a.header.Get("Retry-After"))
			}
			// The other listener has its own Retry-After: no violation.
			post(t, c, e.RedirectURL()+"/v2.1/track", ndjson("v"), true)
			time.Sleep(tc.wait)
			post(t, c, e.URL()+"/v2.1/track", ndjson("v"), true)
			rep := e.Report()
			if rep.RetryAfterViolations != tc.violations || rep.RetryAfterRaces != tc.races || len(rep.Violations) != tc.violations {
				t.Fatalf("violations %d (%v), races %d; want %d, %d", rep.RetryAfterViolations, rep.Violations, rep.RetryAfterRaces, tc.violations, tc.races)
			}
			if tc.violations > 0 {
				v := rep.Violations[0]
				if v.Listener != "primary" || v.Early < 1500*time.Millisecond || v.Early > 2*time.Second || v.NotBefore.Sub(v.Given) != 2*time.Second || v.Remote == "" {
					t.Errorf("violation %+v: want primary, about 1.7 s early", v)
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	e := startEndpoint(t, Config{MaxBodyBytes: 4096, MaxItems: 10})
	c := newClient(t, 5*time.Second)
	send := func(method, path, ce string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, e.URL()+path, strings.NewReader(string(body)))
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}
	cases := []struct {
		name, method, path, ce string
		body                   []byte
		status                 int
		outcome                string
	}{
		{"not JSON", "POST", "/v2.1/track", "", []byte("hello"), 400, "bad_body_400"},
		{"empty", "POST", "/v2.1/track", "", nil, 400, "bad_body_400"},
		{"broken gzip", "POST", "/v2.1/track", "gzip", []byte{0x1f, 0x8b, 0, 0}, 400, "bad_body_400"},
		{"too large", "POST", "/v2.1/track", "", ndjson(ids("big", 40)...), 413, "bad_body_413"},
		{"too many items", "POST", "/v2.1/track", "", []byte(strings.Repeat("{}\n", 11)), 413, "bad_body_413"},
		{"encoding", "POST", "/v2.1/track", "br", []byte("{}"), 415, "bad_body_415"},
		{"wrong path", "POST", "/v3/track", "", ndjson("x"), 404, "not_track_404"},
		{"GET", "GET", "/v2.1/track", "", nil, 405, "not_track_405"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Stats().ByOutcome[tc.outcome]
			status, _ := send(tc.method, tc.path, tc.ce, tc.body)
			if status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			if got := e.Stats().ByOutcome[tc.outcome]; got != before+1 {
				t.Errorf("ByOutcome[%s] = %d, want %d", tc.outcome, got, before+1)
			}
		})
	}
}

func TestInvalidItemsRefusedPerItem(t *testing.T) {
	e := startEndpoint(t, Config{})
	body := []byte(string(Envelope("good")) + "\n" +
		`{"name":"x","data":{"baseType":"EventData","baseData":{"ver":2,"name":"e","properties":{"chaos.id":"noTime"}}}}` + "\n" +
		"not json\n" +
		"[1]\n")
	a := post(t, newClient(t, 5*time.Second), e.URL()+"/v2.1/track", body, true)
	if a.status != 206 {
		t.Fatalf("got %d %v %s", a.status, a.err, a.body)
	}
	r := decodeTrack(t, a.body)
	if r.ItemsReceived != 4 || r.ItemsAccepted != 1 || len(r.Errors) != 3 {
		t.Fatalf("answer %+v", r)
	}
	for i, ie := range r.Errors {
		if ie.Index != i+1 || ie.StatusCode != 400 || ie.Message == "" {
			t.Errorf("error %d: %+v", i, ie)
		}
	}
	rep := e.Report()
	if rep.InvalidItems != 3 || rep.IDs["noTime"].Reason != "status_400" || rep.IDs["good"].Accepted != 1 {
		t.Errorf("report %+v ids %v", rep.Stats, rep.IDs)
	}

	// SkipValidation accepts any object.
	e2 := startEndpoint(t, Config{SkipValidation: true})
	a = post(t, newClient(t, 5*time.Second), e2.URL()+"/v2.1/track", []byte(`{"data":{"baseData":{"id":"span1"}}}`), false)
	if a.status != 200 || e2.Report().IDs["span1"].Accepted != 1 {
		t.Errorf("SkipValidation: %d %s %v", a.status, a.body, e2.Report().IDs)
	}
}

func TestDeterministicGivenSeed(t *testing.T) {
	p := &Profile{
		Name:             "mix",
		Latency:          Latency{Probability: 0.2, Max: Duration(2 * time.Millisecond)},
		Statuses:         map[int]float64{500: 0.1, 503: 0.1, 402: 0.05},
		Throttle:         Throttle{Probability: 0.1, Codes: []int{429, 439}, RetryAfter: RetryAfter{MinSeconds: 1, MaxSeconds: 3, HTTPDate: 0.5}},
		Partial:          Partial{Probability: 0.4, ItemErrorRate: 0.3},
		Redirect:         Redirect{Probability: 0.05},
		Reset:            0.05,
		ResetAfterAccept: 0.05,
		Truncate:         0.05,
		Garbage:          0.05,
	}
	run := func(seed uint64) []string {
		e := startEndpoint(t, Config{Profile: p, Seed: seed, RetryAfterGrace: time.Hour})
		c := newClient(t, 5*time.Second)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		var trace []string
		for i := range 60 {
			a := post(t, c, e.URL()+"/v2.1/track", ndjson(ids("d"+strconv.Itoa(i), 5)...), true)
			s := strconv.Itoa(a.status) + " " + a.header.Get("Retry-After") + " " + string(a.body)
			if a.err != nil {
				s += " error"
			}
			if ra := a.header.Get("Retry-After"); ra != "" && !strings.Contains(ra, "GMT") {
				s = strings.Replace(s, ra, "secs:"+ra, 1)
			} else if ra != "" {
				s = strings.Replace(s, ra, "date", 1) // the date moves with the clock
			}
			trace = append(trace, s)
		}
		rep := e.Report()
		if rep.Seed != seed {
			t.Errorf("Report.Seed %d, want %d", rep.Seed, seed)
		}
		return trace
	}
	a, b, other := run(42), run(42), run(43)
	if !slices.Equal(a, b) {
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("request %d differs with the same seed:\n%s\n%s", i, a[i], b[i])
			}
		}
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 42 and 43 gave the same run")
	}
	kinds := map[string]bool{}
	for _, s := range a {
		kinds[strings.Fields(s)[0]] = true
	}
	if len(kinds) < 6 {
		t.Errorf("only statuses %v in 60 requests: the profile should mix more", kinds)
	}
}

func TestRandomSeedReported(t *testing.T) {
	e1, err := New(Config{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := New(Config{Logger: discard()})
	e3, _ := New(Config{Logger: discard(), Profile: &Profile{Seed: 9}})
	if e1.Seed() == 0 || e1.Seed() == e2.Seed() || e3.Seed() != 9 {
		t.Errorf("seeds %d %d %d", e1.Seed(), e2.Seed(), e3.Seed())
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"not loopback", Config{Addr: "0.0.0.0:0"}, "Addr"},
		{"redirect not loopback", Config{RedirectAddr: "192.0.2.1:80"}, "RedirectAddr"},
		{"no port", Config{Addr: "127.0.0.1"}, "Addr"},
		{"bad profile", Config{Profile: &Profile{Reset: 2}}, "reset"},
		{"unknown body mode", Config{Bodies: BodyMode(7)}, "Bodies"},
		{"per-item errors from counted bodies", Config{Bodies: CountBodies, Profile: &Profile{Partial: Partial{Probability: 0.5, ItemErrorRate: 0.5}}}, "Bodies"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrInvalidConfig naming %s", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Addr: "0.0.0.0:0", AllowNonLoopback: true, Logger: discard()}); err != nil {
		t.Errorf("AllowNonLoopback: %v", err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	e, err := New(Config{Logger: discard(), Profile: only("hang", func(p *Profile) {
		p.Hang = Hang{Probability: 1, Duration: Duration(time.Minute)}
		p.Windows = []Window{{Kind: WindowOutage, Start: Duration(time.Hour), Duration: Duration(time.Second), Mode: OutageRefuse}}
	})})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	done := make(chan answer, 2)
	for range 2 {
		go func() { done <- post(t, c, e.URL()+"/v2.1/track", ndjson("h"), true) }()
	}
	time.Sleep(300 * time.Millisecond) // both requests are hanging
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with hanging requests", d)
	}
	for range 2 {
		if a := <-done; a.err == nil {
			t.Errorf("a hanging request got an answer: %d", a.status)
		}
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := e.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	tr.CloseIdleConnections()
	testkit.Poll(3*time.Second, 20*time.Millisecond, func() bool { return runtime.NumGoroutine() <= base })
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestTimeSeries(t *testing.T) {
	e := startEndpoint(t, Config{BucketWidth: 50 * time.Millisecond, MaxBuckets: 4, Profile: only("s", func(p *Profile) {
		p.Statuses = map[int]float64{503: 0.5}
	}), Seed: 1})
	c := newClient(t, 5*time.Second)
	for i := range 6 {
		post(t, c, e.URL()+"/v2.1/track", ndjson("t"+strconv.Itoa(i)), true)
		time.Sleep(60 * time.Millisecond)
	}
	rep := e.Report()
	if rep.BucketWidth != 50*time.Millisecond || len(rep.Series) == 0 || len(rep.Series) > 4 {
		t.Fatalf("series %+v", rep.Series)
	}
	reqs, acc, fail := 0, 0, 0
	for i, b := range rep.Series {
		if i > 0 && b.Offset != rep.Series[i-1].Offset+50*time.Millisecond {
			t.Errorf("bucket %d at %v after %v", i, b.Offset, rep.Series[i-1].Offset)
		}
		reqs += b.Requests
		acc += b.ItemsAccepted
		fail += b.Failures["status_503"]
	}
	if reqs == 0 || reqs > 6 || acc+fail != reqs {
		t.Errorf("series sums: %d requests, %d accepted, %d failures", reqs, acc, fail)
	}
	if rep.Series[0].Offset == 0 {
		t.Errorf("the oldest buckets should have been forgotten: %+v", rep.Series)
	}
}
