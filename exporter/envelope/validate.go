package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Validate checks one incoming envelope (a JSON object, as any Application
// Insights SDK sends it) against the ingestion schema: the required
// envelope fields (name, time, iKey, data.baseType, data.baseData), the
// required fields of the known base types (RequestData,
// RemoteDependencyData, MessageData, ExceptionData, EventData, MetricData,
// PageViewData, AvailabilityData), the types the schema gives their other
// fields, and the schema's length limits. Other base types only need an
// object as baseData. A trailing newline is fine.
//
// Keys are case-sensitive, as they are for the ingestion service: a
// required key spelled in another case ("iKeY") is missing, and a key that
// differs from a schema key only in case ("StACk" next to an exception's
// fields) is malformed, since a case-insensitive reader (encoding/json
// among them) would take it for the schema's key. The error names the key
// as found. Keys of property, measurement and tag maps are data, not
// schema, and are not checked for case.
//
// The error is a *FieldError naming the first bad field and wrapping
// ErrMissingField, ErrFieldTooLong or ErrMalformed, or an error wrapping
// ErrTooLarge for input over the service's 64 KiB item limit (the
// converter itself stays under the stricter MaxEnvelopeBytes).
func Validate(raw []byte) error {
	if validFast(raw) {
		return nil // the common case, in one pass without allocating
	}
	return validateSlow(raw)
}

// ValidateCompact is [Validate] that also reports whether raw is compact,
// as encoders write JSON: true only if raw is valid and certainly has no
// insignificant whitespace (between its tokens or at its ends), so that
// compacting it would leave it as it is. It may answer false for a compact
// envelope that it validates the slow way. The daemon's intake uses it to
// store such an envelope as it was received, in one pass over its bytes.
func ValidateCompact(raw []byte) (compact bool, err error) {
	if ok, compact := validFastCompact(raw); ok {
		return compact, nil
	}
	return false, validateSlow(raw)
}

// validateSlow is Validate without its fast path: it decodes raw with
// encoding/json and finds the first problem.
func validateSlow(raw []byte) error {
	const maxIncoming = 64 << 10
	if len(bytes.TrimRight(raw, "\r\n")) > maxIncoming {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
	}
	v, err := decodeValue(raw)
	if err != nil {
		return malformed("", err)
	}
	env, ok := v.(map[string]any)
	if !ok && v != nil { // null is an envelope without fields
		return &FieldError{Field: "(envelope)", Err: fmt.Errorf("%w: not a JSON object", ErrMalformed)}
	}
	if err := checkKeys("", env, envelopeKeys); err != nil {
		return err
	}
	if err := requireString("name", env["name"], maxEnvelopeName); err != nil {
		return err
	}
	if err := requireString("time", env["time"], maxTime); err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339Nano, env["time"].(string)); err != nil {
		return &FieldError{Field: "time", Err: fmt.Errorf("%w: not an RFC 3339 time", ErrMalformed)}
	}
	if err := requireString("iKey", env["iKey"], maxIKey); err != nil {
		return err
	}
	if err := checkField("ver", env["ver"], field{"ver", kindInt, false, 0}); err != nil {
		return err
	}
	if sr, ok := env["sampleRate"]; ok && sr != nil {
		f, ok := number(sr)
		if !ok || !(f > 0 && f <= 100) {
			return &FieldError{Field: "sampleRate", Err: fmt.Errorf("%w: must be a number in (0, 100]", ErrMalformed)}
		}
	}
	if err := checkTags(env["tags"]); err != nil {
		return err
	}
	data, err := object("data", env["data"])
	if err != nil {
		return err
	}
	if err := checkKeys("data.", data, dataKeys); err != nil {
		return err
	}
	if err := requireString("data.baseType", data["baseType"], maxEnvelopeName); err != nil {
		return err
	}
	bd, err := object("data.baseData", data["baseData"])
	if err != nil {
		return err
	}
	return validateBase(data["baseType"].(string), bd)
}

// decodeValue decodes one JSON value, numbers as json.Number so that
// integers are told from other numbers, and refuses anything after it but
// white space.
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("invalid character %q after top-level value", rest[0])
	}
	return v, nil
}

// object returns the JSON object v at path: ErrMissingField if it is
// absent or null, ErrMalformed if it is not an object.
func object(path string, v any) (map[string]any, error) {
	if v == nil {
		return nil, &FieldError{Field: path, Err: ErrMissingField}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &FieldError{Field: path, Err: fmt.Errorf("%w: not an object", ErrMalformed)}
	}
	return m, nil
}

// key is a key of the schema at some level of an envelope.
type key struct {
	name     string
	required bool
}

// The schema's keys at the levels whose keys are schema (not data), in the
// order their errors are reported.
var (
	envelopeKeys = []key{{"name", true}, {"time", true}, {"iKey", true}, {"ver", false},
		{"sampleRate", false}, {"seq", false}, {"flags", false}, {"tags", false}, {"data", true}}
	dataKeys      = []key{{"baseType", true}, {"baseData", true}}
	exceptionKeys = []key{{"message", true}, {"typeName", false}, {"stack", false}, {"hasFullStack", false},
		{"id", false}, {"outerId", false}, {"parsedStack", false}}
	dataPointKeys = []key{{"name", true}, {"value", true}, {"ns", false}, {"kind", false},
		{"count", false}, {"min", false}, {"max", false}, {"stdDev", false}}
	// commonBaseKeys are keys of every known base type besides those
	// of its schema.
	commonBaseKeys = []key{{"ver", false}, {"properties", false}, {"measurements", false}}
)

// baseKeys holds the keys of each known base type's baseData: those of
// its schema, then commonBaseKeys, then severityLevel where it has one.
var baseKeys = func() map[string][]key {
	m := make(map[string][]key, len(baseSchemas))
	for baseType, schema := range baseSchemas {
		keys := make([]key, 0, len(schema)+len(commonBaseKeys)+1)
		for _, f := range schema {
			keys = append(keys, key{f.name, f.required})
		}
		keys = append(keys, commonBaseKeys...)
		if baseType == "MessageData" || baseType == "ExceptionData" {
			keys = append(keys, key{"severityLevel", false})
		}
		m[baseType] = keys
	}
	return m
}()

// checkKeys finds the first schema key (in the order of keys) that obj
// holds under another case: a required key missing under its own
// spelling is reported missing, any other is malformed; the error names
// the key as found. Of several spellings of one key, the least in byte
// order is named, so that the error does not depend on map order.
func checkKeys(prefix string, obj map[string]any, keys []key) error {
	best, found := len(keys), ""
	for s := range obj { // one pass: map iteration is the cost here
		for i, k := range keys {
			if s == k.name {
				break
			}
			if i <= best && strings.EqualFold(s, k.name) && (i < best || s < found) {
				best, found = i, s
				break
			}
		}
	}
	if found == "" {
		return nil
	}
	k := keys[best]
	if _, exact := obj[k.name]; k.required && !exact {
		return &FieldError{Field: prefix + k.name,
			Err: fmt.Errorf("%w (found %q: keys are case-sensitive)", ErrMissingField, found)}
	}
	return &FieldError{Field: prefix + k.name,
		Err: fmt.Errorf("%w: key %q differs from %q only in case (keys are case-sensitive)", ErrMalformed, found, k.name)}
}

// checkTags checks the context tags: an object of strings within their
// length limits.
func checkTags(v any) error {
	if v == nil {
		return nil
	}
	tags, ok := v.(map[string]any)
	if !ok {
		return &FieldError{Field: "tags", Err: fmt.Errorf("%w: not an object", ErrMalformed)}
	}
	for k, x := range tags {
		s, ok := x.(string)
		if !ok {
			return &FieldError{Field: "tags[" + clip(k) + "]", Err: fmt.Errorf("%w: not a string", ErrMalformed)}
		}
		if charCount(s, tagLimit(k)) > tagLimit(k) {
			return &FieldError{Field: "tags[" + clip(k) + "]", Err: ErrFieldTooLong}
		}
	}
	return nil
}

// number returns v as a float64 if it is a JSON number that a float64
// holds.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

// integer returns v as an int if it is a JSON number written as an
// integer that an int holds (as encoding/json decodes into an int).
func integer(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, strconv.IntSize)
	return int(i), err == nil
}

// field describes one base-data field: its JSON kind, whether it is
// required, and its length limit for strings (0: none).
type field struct {
	name     string
	kind     fieldKind
	required bool
	limit    int
}

type fieldKind uint8

const (
	kindString fieldKind = iota
	kindBool
	kindNumber
	kindInt
	kindDuration
	kindArray
	kindSeverity
)

// baseSchemas lists the checked fields of the known base types.
var baseSchemas = map[string][]field{
	"RequestData": {
		{"id", kindString, true, maxID}, {"name", kindString, false, maxName},
		{"duration", kindDuration, true, 0}, {"success", kindBool, true, 0},
		{"responseCode", kindString, true, maxResponseCode}, {"source", kindString, false, maxSource},
		{"url", kindString, false, maxURL},
	},
	"RemoteDependencyData": {
		{"id", kindString, false, maxID}, {"name", kindString, true, maxName},
		{"duration", kindDuration, true, 0}, {"success", kindBool, false, 0},
		{"resultCode", kindString, false, maxResponseCode}, {"data", kindString, false, maxData},
		{"type", kindString, false, maxType}, {"target", kindString, false, maxTarget},
	},
	"MessageData": {
		{"message", kindString, true, maxMessage},
	},
	"ExceptionData": {
		{"exceptions", kindArray, true, 0}, {"problemId", kindString, false, maxProblemID},
	},
	"EventData": {
		{"name", kindString, true, maxEventName},
	},
	"MetricData": {
		{"metrics", kindArray, true, 0},
	},
	"PageViewData": {
		{"id", kindString, true, maxID}, {"name", kindString, true, maxName},
		{"url", kindString, false, maxURL}, {"duration", kindDuration, false, 0},
		{"referredUri", kindString, false, maxURL},
	},
	"AvailabilityData": {
		{"id", kindString, true, maxID}, {"name", kindString, true, maxName},
		{"duration", kindDuration, true, 0}, {"success", kindBool, true, 0},
		{"runLocation", kindString, false, maxName}, {"message", kindString, false, maxData},
	},
}

// validateBase checks baseData against the schema of its base type.
func validateBase(baseType string, bd map[string]any) error {
	const prefix = "data.baseData."
	schema, known := baseSchemas[baseType]
	if !known {
		return nil
	}
	if err := checkKeys(prefix, bd, baseKeys[baseType]); err != nil {
		return err
	}
	for _, f := range schema {
		if err := checkField(prefix+f.name, bd[f.name], f); err != nil {
			return err
		}
	}
	if err := checkField(prefix+"ver", bd["ver"], field{"ver", kindInt, false, 0}); err != nil {
		return err
	}
	if baseType == "MessageData" || baseType == "ExceptionData" {
		if err := checkField(prefix+"severityLevel", bd["severityLevel"], field{"severityLevel", kindSeverity, false, 0}); err != nil {
			return err
		}
	}
	if err := checkStringMap(prefix+"properties", bd["properties"], maxPropertyValue); err != nil {
		return err
	}
	if err := checkMeasurements(prefix+"measurements", bd["measurements"]); err != nil {
		return err
	}
	switch baseType {
	case "ExceptionData":
		return checkObjects(prefix+"exceptions", bd["exceptions"].([]any), exceptionKeys, exceptionFields[:])
	case "MetricData":
		return checkObjects(prefix+"metrics", bd["metrics"].([]any), dataPointKeys, dataPointFields[:])
	}
	return nil
}

// The fields checked in each element of ExceptionData's exceptions and
// MetricData's metrics.
var (
	exceptionFields = [...]field{
		{"message", kindString, true, maxMessage}, {"typeName", kindString, false, maxTypeName},
		{"stack", kindString, false, maxStack}, {"hasFullStack", kindBool, false, 0},
	}
	dataPointFields = [...]field{
		{"name", kindString, true, maxName}, {"ns", kindString, false, 256},
		{"value", kindNumber, true, 0},
	}
)

// checkObjects checks each element of list, the array at path, as an
// object with keys and fields.
func checkObjects(path string, list []any, keys []key, fields []field) error {
	for i, e := range list {
		p := path + "[" + strconv.Itoa(i) + "]."
		d, ok := e.(map[string]any)
		if !ok {
			return &FieldError{Field: p[:len(p)-1], Err: ErrMalformed}
		}
		if err := checkKeys(p, d, keys); err != nil {
			return err
		}
		for _, f := range fields {
			if err := checkField(p+f.name, d[f.name], f); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkField checks one decoded JSON value against f.
func checkField(path string, v any, f field) error {
	if v == nil {
		if f.required {
			return &FieldError{Field: path, Err: ErrMissingField}
		}
		return nil
	}
	var ok bool
	switch f.kind {
	case kindString, kindDuration:
		var s string
		if s, ok = v.(string); ok {
			if s == "" && f.required {
				return &FieldError{Field: path, Err: ErrMissingField}
			}
			if f.limit > 0 && charCount(s, f.limit) > f.limit {
				return &FieldError{Field: path, Err: ErrFieldTooLong}
			}
			if f.kind == kindDuration && !validDuration(s) {
				return &FieldError{Field: path, Err: fmt.Errorf("%w: not a d.hh:mm:ss.fffffff duration", ErrMalformed)}
			}
		}
	case kindBool:
		_, ok = v.(bool)
	case kindNumber:
		_, ok = number(v)
	case kindInt:
		if _, ok = integer(v); !ok {
			return &FieldError{Field: path, Err: fmt.Errorf("%w: not an integer", ErrMalformed)}
		}
	case kindSeverity:
		if _, err := severityOf(v); err != nil {
			return &FieldError{Field: path, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
		}
		ok = true
	case kindArray:
		var a []any
		if a, ok = v.([]any); ok && len(a) == 0 && f.required {
			return &FieldError{Field: path, Err: ErrMissingField}
		}
	}
	if !ok {
		return &FieldError{Field: path, Err: fmt.Errorf("%w: wrong JSON type", ErrMalformed)}
	}
	return nil
}

// checkStringMap checks a properties object: string values, keys of at
// most 150 and values of at most limit characters.
func checkStringMap(path string, v any, limit int) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return &FieldError{Field: path, Err: fmt.Errorf("%w: not an object", ErrMalformed)}
	}
	for k, x := range m {
		p := path + "[" + clip(k) + "]"
		s, ok := x.(string)
		switch {
		case !ok:
			return &FieldError{Field: p, Err: fmt.Errorf("%w: not a string", ErrMalformed)}
		case k == "" || charCount(k, maxPropertyKey) > maxPropertyKey:
			return &FieldError{Field: p, Err: fmt.Errorf("%w: key empty or over 150 characters", ErrFieldTooLong)}
		case charCount(s, limit) > limit:
			return &FieldError{Field: p, Err: ErrFieldTooLong}
		}
	}
	return nil
}

// checkMeasurements checks a measurements object: keys of at most 150
// characters, numbers as values (null is taken as absent).
func checkMeasurements(path string, v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return &FieldError{Field: path, Err: fmt.Errorf("%w: not an object", ErrMalformed)}
	}
	for k, x := range m {
		if charCount(k, maxPropertyKey) > maxPropertyKey {
			return &FieldError{Field: path + "[" + clip(k) + "]", Err: ErrFieldTooLong}
		}
		if _, ok := number(x); !ok && x != nil {
			return &FieldError{Field: path + "[" + clip(k) + "]", Err: fmt.Errorf("%w: not a number", ErrMalformed)}
		}
	}
	return nil
}

// requireString checks a required string field.
func requireString(path string, v any, limit int) error {
	if v == nil {
		return &FieldError{Field: path, Err: ErrMissingField}
	}
	s, ok := v.(string)
	if !ok {
		return &FieldError{Field: path, Err: fmt.Errorf("%w: wrong JSON type", ErrMalformed)}
	}
	if s == "" {
		return &FieldError{Field: path, Err: ErrMissingField}
	}
	if charCount(s, limit) > limit {
		return &FieldError{Field: path, Err: ErrFieldTooLong}
	}
	return nil
}

// malformed turns a decoding error into a FieldError naming the field
// when encoding/json knows it.
func malformed(path string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		path = te.Field
	}
	if path == "" {
		path = "(envelope)"
	}
	return &FieldError{Field: path, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
}

// validDuration accepts what the service parses: an optional day part
// (1–3 digits and a dot), hh:mm:ss, and an optional fraction of 1–7 digits.
func validDuration(s string) bool {
	digits := func(s string, i, min, max int) int {
		j := i
		for j < len(s) && j-i < max && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j-i < min {
			return -1
		}
		return j
	}
	i := 0
	if j := digits(s, 0, 1, 3); j > 0 && j < len(s) && s[j] == '.' {
		i = j + 1
	}
	for k := 0; k < 3; k++ {
		j := digits(s, i, 2, 2)
		if j < 0 {
			return false
		}
		i = j
		if k < 2 {
			if i >= len(s) || s[i] != ':' {
				return false
			}
			i++
		}
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' {
		return false
	}
	j := digits(s, i+1, 1, 7)
	return j == len(s)
}

// clip shortens a map key for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
