package fakeingest

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNamedProfilesLoad(t *testing.T) {
	want := []string{"burst", "flaky", "garbage-200", "healthy", "hostile", "outage", "partial", "poison", "steady-partial", "throttled", "wrong-endpoint"}
	if got := ProfileNames(); !slices.Equal(got, want) {
		t.Fatalf("ProfileNames() = %v, want %v", got, want)
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			p, err := ProfileByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != name || p.Description == "" {
				t.Errorf("name %q description %q", p.Name, p.Description)
			}
			// Round trip: what MarshalJSON writes loads again, equal.
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseProfile(strings.NewReader(string(b)), "roundtrip")
			if err != nil {
				t.Fatalf("re-parse %s: %v", b, err)
			}
			b2, _ := json.Marshal(q)
			if string(b) != string(b2) {
				t.Errorf("round trip changed the profile:\n%s\n%s", b, b2)
			}
		})
	}
	hostile, _ := ProfileByName("hostile")
	if len(hostile.Statuses) < 9 || hostile.Throttle.Probability == 0 || hostile.Partial.Probability == 0 ||
		hostile.Redirect.Probability == 0 || hostile.Reset == 0 || hostile.ResetAfterAccept == 0 ||
		hostile.Hang.Probability == 0 || hostile.Truncate == 0 || hostile.Garbage == 0 || len(hostile.Windows) < 2 ||
		hostile.Latency.Probability == 0 {
		t.Errorf("hostile does not inject everything: %+v", hostile)
	}
	if _, err := ProfileByName("nope"); !errors.Is(err, ErrInvalidProfile) || !strings.Contains(err.Error(), "hostile") {
		t.Errorf("unknown name: %v, want an error listing the names", err)
	}
	if _, err := ProfileByName("../profiles/healthy"); err == nil {
		t.Errorf("a path is not a profile name")
	}
}

func TestLoadProfileFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.json")
	if err := os.WriteFile(file, []byte(`{"reset": 0.5, "latency": {"probability": 1, "min": "10ms", "max": "1s"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "mine" || p.Reset != 0.5 || p.Latency.Max.D() != time.Second {
		t.Errorf("profile %+v", p)
	}
	if _, err := LoadProfile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestBadProfileNamesTheField(t *testing.T) {
	cases := []struct {
		name, json, field string
	}{
		{"not JSON", `{"reset": }`, "invalid character"},
		{"unknown field", `{"latncy": {}}`, `"latncy"`},
		{"unknown nested field", `{"hang": {"prob": 1}}`, `"prob"`},
		{"wrong type", `{"reset": "often"}`, "reset"},
		{"bad duration", `{"latency": {"min": "5 parsecs"}}`, "latency.min"},
		{"duration as number", `{"hang": {"duration": 5}}`, "hang.duration"},
		{"probability above 1", `{"latency": {"probability": 1.5}}`, "latency.probability"},
		{"negative probability", `{"truncate": -0.1}`, "truncate"},
		{"max below min", `{"latency": {"min": "2s", "max": "1s"}}`, "latency.max"},
		{"status 413", `{"statuses": {"413": 0.1}}`, `statuses["413"]`},
		{"status 200", `{"statuses": {"200": 0.1}}`, `statuses["200"]`},
		{"status key not a number", `{"statuses": {"5xx": 0.1}}`, "statuses"},
		{"status probability", `{"statuses": {"503": 2}}`, `statuses["503"]`},
		{"sum above 1", `{"reset": 0.6, "garbage": 0.6}`, "add up to 1.2"},
		{"throttle code", `{"throttle": {"codes": [503]}}`, "throttle.codes[0]"},
		{"retry-after order", `{"throttle": {"retryAfter": {"minSeconds": 5, "maxSeconds": 2}}}`, "throttle.retryAfter.maxSeconds"},
		{"retry-after too long", `{"throttle": {"retryAfter": {"maxSeconds": 7200}}}`, "throttle.retryAfter.maxSeconds"},
		{"retry-after date share", `{"throttle": {"retryAfter": {"httpDate": 3}}}`, "throttle.retryAfter.httpDate"},
		{"retriable code not retriable", `{"partial": {"retriableCodes": [400]}}`, "partial.retriableCodes[0]"},
		{"permanent code retriable", `{"partial": {"permanentCodes": [400, 503]}}`, "partial.permanentCodes[1]"},
		{"negative weight", `{"partial": {"sampledOut": -1}}`, "partial.sampledOut"},
		{"all weights zero", `{"partial": {"probability": 0.5, "retriable": 0, "permanent": 0, "sampledOut": 0}}`, "partial"},
		{"item error rate", `{"partial": {"itemErrorRate": 7}}`, "partial.itemErrorRate"},
		{"redirect code", `{"redirect": {"codes": [302]}}`, "redirect.codes[0]"},
		{"window kind", `{"windows": [{"kind": "storm", "duration": "1s"}]}`, "windows[0].kind"},
		{"window duration", `{"windows": [{"kind": "outage"}]}`, "windows[0].duration"},
		{"window every", `{"windows": [{"kind": "outage", "duration": "2s"}, {"kind": "throttle", "duration": "2s", "every": "1s"}]}`, "windows[1].every"},
		{"window mode", `{"windows": [{"kind": "outage", "duration": "1s", "mode": "404"}]}`, "windows[0].mode"},
		{"window code", `{"windows": [{"kind": "throttle", "duration": "1s", "code": 503}]}`, "windows[0].code"},
		{"code on outage", `{"windows": [{"kind": "outage", "duration": "1s", "code": 429}]}`, "windows[0].code"},
		{"wrong-endpoint mode", `{"windows": [{"kind": "wrong-endpoint", "duration": "1s", "mode": "503"}]}`, "windows[0].mode"},
		{"code on wrong-endpoint", `{"windows": [{"kind": "wrong-endpoint", "duration": "1s", "code": 404}]}`, "windows[0].code"},
		{"retry-after on wrong-endpoint", `{"windows": [{"kind": "wrong-endpoint", "duration": "1s", "retryAfter": true}]}`, "windows[0].retryAfter"},
		{"mode on throttle", `{"windows": [{"kind": "throttle", "duration": "1s", "mode": "html"}]}`, "windows[0].mode"},
		{"poison count", `{"poison": {"count": -1}}`, "poison.count"},
		{"poison status", `{"poison": {"status": 404}}`, "poison.status"},
		{"script status", `{"script": [{"status": 200}, {"status": 302}]}`, "script[1].status"},
		{"script 413", `{"script": [{"status": 413}]}`, "script[0].status"},
		{"script count", `{"script": [{"status": 503, "count": -2}]}`, "script[0].count"},
		{"script retry-after", `{"script": [{"status": 429, "retryAfter": 7200}]}`, "script[0].retryAfter"},
		{"script item errors on a 503", `{"script": [{"status": 503, "itemErrorRate": 0.5}]}`, "script[0].itemErrorRate"},
		{"script item error rate", `{"script": [{"status": 206, "itemErrorRate": 2}]}`, "script[0].itemErrorRate"},
		{"script item code", `{"script": [{"status": 206, "itemErrorRate": 0.5, "itemCode": 200}]}`, "script[0].itemCode"},
		{"liveness ratio", `{"liveness": {"throughputRatio": 1.5}}`, "liveness.throughputRatio"},
		{"liveness floor", `{"liveness": {"throughputFloor": -1}}`, "liveness.throughputFloor"},
		{"liveness recovery", `{"liveness": {"recovery": "-1s"}}`, "liveness.recovery"},
		{"liveness stall", `{"liveness": {"stall": "-1s"}}`, "liveness.stall"},
		{"trailing data", `{} {}`, "trailing data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile(strings.NewReader(tc.json), "bad.json")
			if err == nil {
				t.Fatalf("no error for %s", tc.json)
			}
			if !errors.Is(err, ErrInvalidProfile) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "bad.json") {
				t.Errorf("error %q: want ErrInvalidProfile naming %s and the file", err, tc.field)
			}
		})
	}
	// Every problem is reported at once.
	_, err := ParseProfile(strings.NewReader(`{"reset": 2, "garbage": -1}`), "two.json")
	if err == nil || !strings.Contains(err.Error(), "reset") || !strings.Contains(err.Error(), "garbage") {
		t.Errorf("want both fields named: %v", err)
	}
}

func TestDrawFollowsTheProfile(t *testing.T) {
	p := &Profile{
		Statuses: map[int]float64{500: 0.2, 402: 0.1},
		Throttle: Throttle{Probability: 0.1, Codes: []int{429, 439}, RetryAfter: RetryAfter{MinSeconds: 1, MaxSeconds: 3, HTTPDate: 0.5}},
		Reset:    0.1,
		Latency:  Latency{Probability: 0.5, Min: Duration(time.Millisecond), Max: Duration(3 * time.Millisecond)},
		Partial:  Partial{Probability: 0.25},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	c := compile(p)
	const n = 20000
	count := map[string]int{}
	latent, partial := 0, 0
	for i := range n {
		pl := c.draw(rand.New(rand.NewPCG(1, uint64(i))), 0, false)
		count[pl.fault.Outcome(pl.status)]++
		if pl.latency > 0 {
			latent++
			if pl.latency < time.Millisecond || pl.latency > 3*time.Millisecond {
				t.Fatalf("latency %v outside [1ms, 3ms]", pl.latency)
			}
		}
		if pl.partial {
			partial++
		}
		if pl.fault == FaultThrottle && (pl.retryAfter < 1 || pl.retryAfter > 3) {
			t.Fatalf("Retry-After %d outside [1, 3]", pl.retryAfter)
		}
	}
	near := func(name string, got int, want float64) {
		if f := float64(got) / n; f < want-0.02 || f > want+0.02 {
			t.Errorf("%s: %.3f of requests, want %.2f", name, f, want)
		}
	}
	near("status_500", count["status_500"], 0.2)
	near("status_402", count["status_402"], 0.1)
	near("throttle", count["throttle_429"]+count["throttle_439"], 0.1)
	near("throttle_439", count["throttle_439"], 0.05)
	near("reset", count["reset"], 0.1)
	near("none", count["ok"], 0.5)
	near("latency", latent, 0.5)
	near("partial", partial, 0.25)

	// The same seed and request number draw the same plan; a window
	// overrides.
	w := &Profile{Windows: []Window{{Kind: WindowThrottle, Start: Duration(time.Second), Duration: Duration(1500 * time.Millisecond), Code: 439}}}
	cw := compile(w)
	if pl := cw.draw(rand.New(rand.NewPCG(1, 0)), 1200*time.Millisecond, false); pl.fault != FaultThrottleWindow || pl.status != 439 || pl.retryAfter != 2 {
		t.Errorf("in the window: %+v, want 439 with Retry-After 2 (1.3 s left, rounded up)", pl)
	}
	if pl := cw.draw(rand.New(rand.NewPCG(1, 0)), 2600*time.Millisecond, false); pl.fault != FaultNone {
		t.Errorf("after the window: %+v", pl)
	}
}

func TestEnvelopeIsValidAndIdentifiable(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456700, time.UTC)
	raw := Envelope("id-1", WithIKey("11111111-2222-3333-4444-555555555555"), WithTime(at), WithPadding(100),
		WithProperty("k", "v"), WithEventName("evt"))
	if strings.ContainsRune(string(raw), '\n') {
		t.Errorf("envelope is not one line: %s", raw)
	}
	var env struct {
		Ver  int    `json:"ver"`
		Name string `json:"name"`
		Time string `json:"time"`
		IKey string `json:"iKey"`
		Data struct {
			BaseType string `json:"baseType"`
			BaseData struct {
				Ver        int               `json:"ver"`
				Name       string            `json:"name"`
				Properties map[string]string `json:"properties"`
			} `json:"baseData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	bd := env.Data.BaseData
	if env.Ver != 1 || env.Name != "Microsoft.ApplicationInsights.Event" || env.Time != "2026-11-25T12:00:00.1234567Z" ||
		env.IKey != "11111111-2222-3333-4444-555555555555" || env.Data.BaseType != "EventData" || bd.Ver != 2 ||
		bd.Name != "evt" || bd.Properties["k"] != "v" || len(bd.Properties["chaos.pad"]) != 100 || bd.Properties[IDProperty] != "id-1" {
		t.Errorf("envelope %s", raw)
	}
	e := &Endpoint{}
	e.cfg = Config{}.withDefaults()
	if err := e.validate(itemOf(raw)); err != nil {
		t.Errorf("the service's validation refuses the synthetic envelope: %v", err)
	}
	if d := time.Since(mustTime(t, Envelope("now"))); d < 0 || d > time.Minute {
		t.Errorf("default time is %v ago, want now", d)
	}

	cases := []struct {
		name string
		raw  string
		f    IDFunc
		id   string
		ok   bool
	}{
		{"synthetic", string(raw), DefaultID, "id-1", true},
		{"span (request)", `{"data":{"baseType":"RequestData","baseData":{"id":"0123456789abcdef"}}}`, DefaultID, "0123456789abcdef", true},
		{"property wins over id", `{"data":{"baseData":{"id":"span","properties":{"chaos.id":"prop"}}}}`, DefaultID, "prop", true},
		{"no id", `{"data":{"baseType":"MessageData","baseData":{"message":"m"}}}`, DefaultID, "", false},
		{"id not a string", `{"data":{"baseData":{"id":7}}}`, DefaultID, "", false},
		{"empty id", `{"data":{"baseData":{"id":""}}}`, DefaultID, "", false},
		{"not JSON", `nope`, DefaultID, "", false},
		{"IDAt", `{"tags":{"ai.operation.id":"op"}}`, IDAt("tags", "ai.operation.id"), "op", true},
		{"IDAt missing", `{"tags":{}}`, IDAt("tags", "ai.operation.id"), "", false},
		{"IDAt through a non-object", `{"tags":"x"}`, IDAt("tags", "ai.operation.id"), "", false},
		{"TypedID", `{"data":{"baseType":"MessageData","baseData":{"properties":{"otlp.id":"l-7"}}}}`, TypedID("otlp.id"), "MessageData:l-7", true},
		{"TypedID without the property", `{"data":{"baseType":"MessageData","baseData":{"properties":{}}}}`, TypedID("otlp.id"), "", false},
		{"TypedID of a number", `{"data":{"baseType":"MessageData","baseData":{"properties":{"otlp.id":7}}}}`, TypedID("otlp.id"), "", false},
		{"TypedID of garbage", `<html>`, TypedID("otlp.id"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := tc.f([]byte(tc.raw))
			if id != tc.id || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", id, ok, tc.id, tc.ok)
			}
		})
	}
}

func mustTime(t *testing.T, raw []byte) time.Time {
	t.Helper()
	var env struct {
		Time string `json:"time"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, env.Time)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestPoisonMarked(t *testing.T) {
	for _, tc := range []struct {
		count, n int
		want     []int
	}{
		{0, 10, nil},
		{1, 2000, []int{1000}},
		{1, 1, []int{0}},
		{2, 10, []int{2, 7}},
		{3, 9, []int{1, 4, 7}},
		{5, 3, []int{0, 1, 2}},
	} {
		var got []int
		for i := range tc.n {
			if (Poison{Count: tc.count}).Marked(i, tc.n) {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Count %d of %d: marked %v, want %v", tc.count, tc.n, got, tc.want)
		}
	}
}
