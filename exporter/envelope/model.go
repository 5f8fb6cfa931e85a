package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Envelope is the wire model of one telemetry item. The converter does not
// use it (it writes JSON directly); it documents the output, decodes it in
// tests and serves as the encoding/json baseline.
type Envelope struct {
	Ver        int               `json:"ver"`
	Name       string            `json:"name"`
	Time       string            `json:"time"`
	SampleRate float64           `json:"sampleRate"`
	IKey       string            `json:"iKey"`
	Tags       map[string]string `json:"tags,omitempty"`
	Data       Data              `json:"data"`
}

// Data wraps the typed payload. When decoding, BaseData becomes a
// *RequestData, *RemoteDependencyData, *MessageData, *ExceptionData,
// *EventData or *MetricData according to BaseType, or a json.RawMessage for other types.
type Data struct {
	BaseType string `json:"baseType"`
	BaseData any    `json:"baseData"`
}

// UnmarshalJSON decodes BaseData into the type BaseType names.
func (d *Data) UnmarshalJSON(b []byte) error {
	var raw struct {
		BaseType string          `json:"baseType"`
		BaseData json.RawMessage `json:"baseData"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	d.BaseType = raw.BaseType
	var v any
	switch raw.BaseType {
	case "RequestData":
		v = new(RequestData)
	case "RemoteDependencyData":
		v = new(RemoteDependencyData)
	case "MessageData":
		v = new(MessageData)
	case "ExceptionData":
		v = new(ExceptionData)
	case "EventData":
		v = new(EventData)
	case "MetricData":
		v = new(MetricData)
	default:
		d.BaseData = raw.BaseData
		return nil
	}
	if len(raw.BaseData) > 0 {
		if err := json.Unmarshal(raw.BaseData, v); err != nil {
			return fmt.Errorf("baseData: %w", err)
		}
	}
	d.BaseData = v
	return nil
}

// RequestData is the payload of a request (a server or consumer span).
type RequestData struct {
	Ver          int                `json:"ver"`
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	Duration     string             `json:"duration"`
	Success      bool               `json:"success"`
	ResponseCode string             `json:"responseCode"`
	Source       string             `json:"source,omitempty"`
	URL          string             `json:"url,omitempty"`
	Properties   map[string]string  `json:"properties,omitempty"`
	Measurements map[string]float64 `json:"measurements,omitempty"`
}

// RemoteDependencyData is the payload of a dependency (a client, producer
// or internal span).
type RemoteDependencyData struct {
	Ver          int                `json:"ver"`
	ID           string             `json:"id"`
	Name         string             `json:"name"`
	Duration     string             `json:"duration"`
	Success      bool               `json:"success"`
	ResultCode   string             `json:"resultCode"`
	Type         string             `json:"type,omitempty"`
	Target       string             `json:"target,omitempty"`
	Data         string             `json:"data,omitempty"`
	Properties   map[string]string  `json:"properties,omitempty"`
	Measurements map[string]float64 `json:"measurements,omitempty"`
}

// MessageData is the payload of a trace message (a span event).
type MessageData struct {
	Ver           int               `json:"ver"`
	Message       string            `json:"message"`
	SeverityLevel *SeverityLevel    `json:"severityLevel,omitempty"`
	Properties    map[string]string `json:"properties,omitempty"`
}

// ExceptionData is the payload of an exception (an "exception" span event).
type ExceptionData struct {
	Ver           int                `json:"ver"`
	Exceptions    []ExceptionDetails `json:"exceptions"`
	SeverityLevel *SeverityLevel     `json:"severityLevel,omitempty"`
	ProblemID     string             `json:"problemId,omitempty"`
	Properties    map[string]string  `json:"properties,omitempty"`
}

// ExceptionDetails describes one exception.
type ExceptionDetails struct {
	TypeName     string `json:"typeName"`
	Message      string `json:"message"`
	Stack        string `json:"stack,omitempty"`
	HasFullStack bool   `json:"hasFullStack"`
}

// SeverityLevel is the severity of a trace message or an exception. The
// schema spells it as a name; some SDKs send its number (0 for Verbose to 4
// for Critical) instead, which decodes to the name.
type SeverityLevel string

// The severity levels of the schema.
const (
	SeverityVerbose     SeverityLevel = "Verbose"
	SeverityInformation SeverityLevel = "Information"
	SeverityWarning     SeverityLevel = "Warning"
	SeverityError       SeverityLevel = "Error"
	SeverityCritical    SeverityLevel = "Critical"
)

var severityByNumber = [...]SeverityLevel{SeverityVerbose, SeverityInformation, SeverityWarning, SeverityError, SeverityCritical}

// UnmarshalJSON accepts a string, or an integer from 0 to 4.
func (l *SeverityLevel) UnmarshalJSON(b []byte) error {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	s, err := severityOf(v)
	if err != nil {
		return err
	}
	*l = s
	return nil
}

// severityOf returns the severity level a decoded JSON value (numbers as
// json.Number) stands for.
func severityOf(v any) (SeverityLevel, error) {
	switch v := v.(type) {
	case string:
		return SeverityLevel(v), nil
	case json.Number:
		if i, err := strconv.Atoi(string(v)); err == nil && i >= 0 && i < len(severityByNumber) {
			return severityByNumber[i], nil
		}
		return "", fmt.Errorf("severity level %s is not an integer from 0 to 4", v)
	}
	return "", errors.New("severity level is neither a name nor a number")
}
