package fakeingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/aispool/aispool/internal/breeze"
)

// IDProperty is the custom property that carries the id of a synthetic
// envelope made by Envelope, and the first place DefaultID looks.
const IDProperty = "chaos.id"

// DefaultIKey is the instrumentation key of synthetic envelopes unless
// WithIKey says otherwise.
const DefaultIKey = "00000000-0000-0000-0000-000000000000"

// IDFunc finds the unique id of an envelope (one compact JSON object). It
// returns false when the envelope has none; such envelopes are accepted and
// counted, but cannot be reconciled one by one.
type IDFunc func(raw []byte) (string, bool)

// DefaultID finds an envelope's id: the custom property "chaos.id"
// (data.baseData.properties["chaos.id"], set by Envelope) if present, else
// data.baseData.id, which is the span id in the request and dependency
// envelopes aispool's converter makes from spans (unique per span), and the
// id of page views and availability results.
func DefaultID(raw []byte) (string, bool) {
	var env struct {
		Data struct {
			BaseData struct {
				ID         json.RawMessage            `json:"id"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"baseData"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return "", false
	}
	bd := env.Data.BaseData
	if id, ok := jsonString(bd.Properties[IDProperty]); ok {
		return id, true
	}
	return jsonString(bd.ID)
}

// IDAt returns an IDFunc that takes the string at a path of object keys,
// e.g. IDAt("data", "baseData", "properties", "my.id"). Keys are matched
// exactly; a missing key, a value that is not a string, or an empty string
// means no id.
func IDAt(path ...string) IDFunc {
	path = append([]string(nil), path...)
	return func(raw []byte) (string, bool) {
		cur := json.RawMessage(raw)
		for _, k := range path {
			var obj map[string]json.RawMessage
			if json.Unmarshal(cur, &obj) != nil {
				return "", false
			}
			next, ok := obj[k]
			if !ok {
				return "", false
			}
			cur = next
		}
		return jsonString(cur)
	}
}

// TypedID returns an IDFunc that names an envelope by its base type and
// the string property key, "<baseType>:<value>" (e.g. "MessageData:l-7"):
// one id per converted item, saying also what it was converted into. An
// envelope without the property has no id.
func TypedID(key string) IDFunc {
	return func(raw []byte) (string, bool) {
		var env struct {
			Data struct {
				BaseType string `json:"baseType"`
				BaseData struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"baseData"`
			} `json:"data"`
		}
		if json.Unmarshal(raw, &env) != nil {
			return "", false
		}
		v, ok := jsonString(env.Data.BaseData.Properties[key])
		if !ok {
			return "", false
		}
		return env.Data.BaseType + ":" + v, true
	}
}

// jsonString decodes a non-empty JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

// EnvelopeOption adjusts a synthetic envelope made by Envelope.
type EnvelopeOption func(*envelopeSpec)

type envelopeSpec struct {
	ikey  string
	at    time.Time
	pad   int
	props map[string]string
	name  string
}

// WithIKey sets the envelope's instrumentation key (default DefaultIKey).
func WithIKey(ikey string) EnvelopeOption { return func(s *envelopeSpec) { s.ikey = ikey } }

// WithTime sets the envelope's time (default: now).
func WithTime(t time.Time) EnvelopeOption { return func(s *envelopeSpec) { s.at = t } }

// WithPadding adds a property "chaos.pad" of n bytes, to make envelopes of a
// chosen size (the service refuses items of 64 KiB and more).
func WithPadding(n int) EnvelopeOption { return func(s *envelopeSpec) { s.pad = n } }

// WithProperty adds a custom property.
func WithProperty(key, value string) EnvelopeOption {
	return func(s *envelopeSpec) { s.props[key] = value }
}

// WithPoison marks the envelope as poison (the property PoisonProperty):
// an endpoint whose profile sets Poison fails every request holding it.
func WithPoison() EnvelopeOption { return WithProperty(PoisonProperty, "true") }

// poisoned reports whether a decoded item is marked poison: its custom
// property PoisonProperty is present, whatever its value.
func poisoned(it breeze.Item) bool {
	if it.Err != nil || !bytes.Contains(it.Raw, []byte(`"`+PoisonProperty+`"`)) {
		return false
	}
	var env struct {
		Data struct {
			BaseData struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"baseData"`
		} `json:"data"`
	}
	if json.Unmarshal(it.Raw, &env) != nil {
		return false
	}
	_, ok := env.Data.BaseData.Properties[PoisonProperty]
	return ok
}

// WithEventName sets the event's name (default "chaos").
func WithEventName(name string) EnvelopeOption { return func(s *envelopeSpec) { s.name = name } }

// Envelope returns a valid synthetic envelope as one line of compact JSON
// (no trailing newline): a custom event (EventData, named "chaos") whose
// property "chaos.id" is id, with time now (UTC, 7 fractional digits, as
// docs/protocol.md's Envelopes section says), iKey DefaultIKey and envelope
// name "Microsoft.ApplicationInsights.Event". Scenarios append such envelopes to
// a spool to drive N identifiable items through the shipper without the
// OpenTelemetry SDK; DefaultID finds the id again.
func Envelope(id string, opts ...EnvelopeOption) []byte {
	s := envelopeSpec{ikey: DefaultIKey, props: map[string]string{}, name: "chaos"}
	for _, o := range opts {
		o(&s)
	}
	if s.at.IsZero() {
		s.at = time.Now()
	}
	s.props[IDProperty] = id
	if s.pad > 0 {
		s.props["chaos.pad"] = strings.Repeat("x", s.pad)
	}
	type baseData struct {
		Ver        int               `json:"ver"`
		Name       string            `json:"name"`
		Properties map[string]string `json:"properties"`
	}
	env := struct {
		Ver        int               `json:"ver"`
		Name       string            `json:"name"`
		Time       string            `json:"time"`
		SampleRate float64           `json:"sampleRate"`
		IKey       string            `json:"iKey"`
		Tags       map[string]string `json:"tags"`
		Data       struct {
			BaseType string   `json:"baseType"`
			BaseData baseData `json:"baseData"`
		} `json:"data"`
	}{
		Ver:        1,
		Name:       "Microsoft.ApplicationInsights.Event",
		Time:       s.at.UTC().Format("2006-01-02T15:04:05.0000000Z"),
		SampleRate: 100,
		IKey:       s.ikey,
		Tags:       map[string]string{"ai.internal.sdkVersion": "chaos:1", "ai.cloud.role": "chaos"},
	}
	env.Data.BaseType = "EventData"
	env.Data.BaseData = baseData{Ver: 2, Name: s.name, Properties: s.props}
	b, err := json.Marshal(env)
	if err != nil {
		panic("chaos: Envelope: " + err.Error()) // only strings and numbers: cannot happen
	}
	return b
}
