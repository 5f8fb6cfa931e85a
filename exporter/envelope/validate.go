package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Validate checks one incoming envelope (a JSON object, as any Application
// Insights SDK sends it) against the ingestion schema: the required
// envelope fields (name, time, iKey, data.baseType, data.baseData), the
// required fields of the known base types (RequestData,
// RemoteDependencyData, MessageData, ExceptionData, EventData, MetricData,
// PageViewData, AvailabilityData), and the schema's length limits. Other
// base types only need an object as baseData. A trailing newline is fine.
//
// The error is a *FieldError naming the first bad field and wrapping
// ErrMissingField, ErrFieldTooLong or ErrMalformed, or an error wrapping
// ErrTooLarge for input over the service's 64 KiB item limit (the
// converter itself stays under the stricter MaxEnvelopeBytes).
func Validate(raw []byte) error {
	const maxIncoming = 64 << 10
	if len(bytes.TrimRight(raw, "\r\n")) > maxIncoming {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
	}
	var env struct {
		Name       *string           `json:"name"`
		Time       *string           `json:"time"`
		IKey       *string           `json:"iKey"`
		SampleRate *float64          `json:"sampleRate"`
		Tags       map[string]string `json:"tags"`
		Data       *struct {
			BaseType *string        `json:"baseType"`
			BaseData map[string]any `json:"baseData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return malformed("", err)
	}
	if err := requireString("name", env.Name, maxEnvelopeName); err != nil {
		return err
	}
	if err := requireString("time", env.Time, maxTime); err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339Nano, *env.Time); err != nil {
		return &FieldError{Field: "time", Err: fmt.Errorf("%w: not an RFC 3339 time", ErrMalformed)}
	}
	if err := requireString("iKey", env.IKey, maxIKey); err != nil {
		return err
	}
	if sr := env.SampleRate; sr != nil && !(*sr > 0 && *sr <= 100) {
		return &FieldError{Field: "sampleRate", Err: fmt.Errorf("%w: must be in (0, 100]", ErrMalformed)}
	}
	for k, v := range env.Tags {
		if charCount(v, tagLimit(k)) > tagLimit(k) {
			return &FieldError{Field: "tags[" + clip(k) + "]", Err: ErrFieldTooLong}
		}
	}
	if env.Data == nil {
		return &FieldError{Field: "data", Err: ErrMissingField}
	}
	if err := requireString("data.baseType", env.Data.BaseType, maxEnvelopeName); err != nil {
		return err
	}
	if env.Data.BaseData == nil {
		return &FieldError{Field: "data.baseData", Err: ErrMissingField}
	}
	return validateBase(*env.Data.BaseType, env.Data.BaseData)
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
	kindDuration
	kindArray
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
	for _, f := range schema {
		if err := checkField(prefix+f.name, bd[f.name], f); err != nil {
			return err
		}
	}
	if err := checkStringMap(prefix+"properties", bd["properties"], maxPropertyValue); err != nil {
		return err
	}
	if m, ok := bd["measurements"].(map[string]any); ok {
		for k := range m {
			if charCount(k, maxPropertyKey) > maxPropertyKey {
				return &FieldError{Field: prefix + "measurements[" + clip(k) + "]", Err: ErrFieldTooLong}
			}
		}
	}
	switch baseType {
	case "ExceptionData":
		for i, e := range bd["exceptions"].([]any) {
			p := prefix + "exceptions[" + strconv.Itoa(i) + "]."
			d, ok := e.(map[string]any)
			if !ok {
				return &FieldError{Field: p[:len(p)-1], Err: ErrMalformed}
			}
			for _, f := range [...]field{
				{"message", kindString, true, maxMessage}, {"typeName", kindString, false, maxTypeName},
				{"stack", kindString, false, maxStack}, {"hasFullStack", kindBool, false, 0},
			} {
				if err := checkField(p+f.name, d[f.name], f); err != nil {
					return err
				}
			}
		}
	case "MetricData":
		for i, m := range bd["metrics"].([]any) {
			p := prefix + "metrics[" + strconv.Itoa(i) + "]."
			d, ok := m.(map[string]any)
			if !ok {
				return &FieldError{Field: p[:len(p)-1], Err: ErrMalformed}
			}
			for _, f := range [...]field{
				{"name", kindString, true, maxName}, {"ns", kindString, false, 256},
				{"value", kindNumber, true, 0},
			} {
				if err := checkField(p+f.name, d[f.name], f); err != nil {
					return err
				}
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
		_, ok = v.(float64)
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

// requireString checks a required top-level string field.
func requireString(path string, s *string, limit int) error {
	if s == nil || *s == "" {
		return &FieldError{Field: path, Err: ErrMissingField}
	}
	if charCount(*s, limit) > limit {
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
