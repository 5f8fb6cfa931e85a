package envelope

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestValidateSDKSample validates every envelope of a request captured
// from the Node.js Azure Monitor exporter.
func TestValidateSDKSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/node-exporter-v2.1-track.json")
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Body []json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		t.Fatal(err)
	}
	if len(sample.Body) == 0 {
		t.Fatal("sample has no envelopes")
	}
	for i, env := range sample.Body {
		if err := Validate(env); err != nil {
			t.Errorf("envelope %d: %v", i, err)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	const base = `"ver":1,"name":"Microsoft.ApplicationInsights.Request","time":"2024-05-06T07:08:09.1234567Z","iKey":"k"`
	req := func(baseData string) string {
		return `{` + base + `,"data":{"baseType":"RequestData","baseData":{` + baseData + `}}}`
	}
	const okReq = `"ver":2,"id":"a","duration":"0.00:00:01.0000000","success":true,"responseCode":"200"`
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		raw   string
		field string
		err   error
	}{
		{"valid request", req(okReq), "", nil},
		{"valid with newline", req(okReq) + "\n", "", nil},
		{"not json", `{`, "(envelope)", ErrMalformed},
		{"array", `[]`, "(envelope)", ErrMalformed},
		{"trailing garbage", req(okReq) + `x`, "(envelope)", ErrMalformed},
		{"null", `null`, "name", ErrMissingField},
		{"missing name", `{"time":"2024-05-06T07:08:09Z","iKey":"k","data":{}}`, "name", ErrMissingField},
		{"name not a string", `{"name":5}`, "name", ErrMalformed},
		{"missing time", `{"name":"n","iKey":"k"}`, "time", ErrMissingField},
		{"bad time", `{"name":"n","time":"yesterday","iKey":"k"}`, "time", ErrMalformed},
		{"missing iKey", `{"name":"n","time":"2024-05-06T07:08:09Z"}`, "iKey", ErrMissingField},
		{"long iKey", `{"name":"n","time":"2024-05-06T07:08:09Z","iKey":"` + long(41) + `"}`, "iKey", ErrFieldTooLong},
		{"bad sampleRate", `{"name":"n","time":"2024-05-06T07:08:09Z","iKey":"k","sampleRate":0,"data":{}}`, "sampleRate", ErrMalformed},
		{"long tag", `{` + base + `,"tags":{"ai.cloud.role":"` + long(257) + `"},"data":{}}`, `tags["ai.cloud.role"]`, ErrFieldTooLong},
		{"missing data", `{` + base + `}`, "data", ErrMissingField},
		{"missing baseType", `{` + base + `,"data":{"baseData":{}}}`, "data.baseType", ErrMissingField},
		{"missing baseData", `{` + base + `,"data":{"baseType":"RequestData"}}`, "data.baseData", ErrMissingField},
		{"baseData not an object", `{` + base + `,"data":{"baseType":"RequestData","baseData":[]}}`, "data.baseData", ErrMalformed},
		{"missing request id", req(`"duration":"00:00:01","success":true,"responseCode":"200"`), "data.baseData.id", ErrMissingField},
		{"missing responseCode", req(`"id":"a","duration":"00:00:01","success":true`), "data.baseData.responseCode", ErrMissingField},
		{"missing success", req(`"id":"a","duration":"00:00:01","responseCode":"200"`), "data.baseData.success", ErrMissingField},
		{"success not bool", req(`"id":"a","duration":"00:00:01","success":"yes","responseCode":"200"`), "data.baseData.success", ErrMalformed},
		{"bad duration", req(`"id":"a","duration":"1s","success":true,"responseCode":"200"`), "data.baseData.duration", ErrMalformed},
		{"long url", req(okReq + `,"url":"` + long(2049) + `"`), "data.baseData.url", ErrFieldTooLong},
		{"long property key", req(okReq + `,"properties":{"` + long(151) + `":"v"}`), `data.baseData.properties["` + long(40) + `"…]`, ErrFieldTooLong},
		{"long property value", req(okReq + `,"properties":{"k":"` + long(8193) + `"}`), `data.baseData.properties["k"]`, ErrFieldTooLong},
		{"property not a string", req(okReq + `,"properties":{"k":1}`), `data.baseData.properties["k"]`, ErrMalformed},
		{"long measurement key", req(okReq + `,"measurements":{"` + long(151) + `":1}`), `data.baseData.measurements["` + long(40) + `"…]`, ErrFieldTooLong},
		{"dependency without name", `{` + base + `,"data":{"baseType":"RemoteDependencyData","baseData":{"duration":"00:00:01"}}}`, "data.baseData.name", ErrMissingField},
		{"message without text", `{` + base + `,"data":{"baseType":"MessageData","baseData":{"message":""}}}`, "data.baseData.message", ErrMissingField},
		{"exception list empty", `{` + base + `,"data":{"baseType":"ExceptionData","baseData":{"exceptions":[]}}}`, "data.baseData.exceptions", ErrMissingField},
		{"exception without message", `{` + base + `,"data":{"baseType":"ExceptionData","baseData":{"exceptions":[{"typeName":"E"}]}}}`, "data.baseData.exceptions[0].message", ErrMissingField},
		{"exception not an object", `{` + base + `,"data":{"baseType":"ExceptionData","baseData":{"exceptions":[1]}}}`, "data.baseData.exceptions[0]", ErrMalformed},
		{"event without name", `{` + base + `,"data":{"baseType":"EventData","baseData":{}}}`, "data.baseData.name", ErrMissingField},
		{"metric without value", `{` + base + `,"data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m"}]}}}`, "data.baseData.metrics[0].value", ErrMissingField},
		{"availability without success", `{` + base + `,"data":{"baseType":"AvailabilityData","baseData":{"id":"a","name":"n","duration":"00:00:01"}}}`, "data.baseData.success", ErrMissingField},
		{"unknown base type passes", `{` + base + `,"data":{"baseType":"PageViewPerfData","baseData":{"anything":1}}}`, "", nil},
		// Keys are case-sensitive: encoding/json would take "nAme" for
		// "name", the ingestion service and the sender do not.
		{"mis-cased envelope", `{"nAme":"n","tIme":"2024-05-06T07:08:09Z","iKeY":"k","dAtA":{"BAseTYpe":"MessageData","baseData":{"message":"m"}}}`, "name", ErrMissingField},
		{"mis-cased iKey", `{"name":"n","time":"2024-05-06T07:08:09Z","ikey":"k","data":{}}`, "iKey", ErrMissingField},
		{"mis-cased iKey beside iKey", `{` + base + `,"IKEY":"other","data":{}}`, "iKey", ErrMalformed},
		{"mis-cased baseType", `{` + base + `,"data":{"BAseTYpe":"RequestData","baseData":{}}}`, "data.baseType", ErrMissingField},
		{"mis-cased baseData", `{` + base + `,"data":{"baseType":"RequestData","BaseData":{}}}`, "data.baseData", ErrMissingField},
		{"mis-cased optional tags", `{` + base + `,"Tags":{"k":"v"},"data":{}}`, "tags", ErrMalformed},
		{"mis-cased sampleRate", `{` + base + `,"samplerate":500,"data":{}}`, "sampleRate", ErrMalformed},
		{"mis-cased request field", req(`"ID":"a","duration":"00:00:01","success":true,"responseCode":"200"`), "data.baseData.id", ErrMissingField},
		{"mis-cased optional url", req(okReq + `,"URL":"x"`), "data.baseData.url", ErrMalformed},
		{"mis-cased measurements", req(okReq + `,"Measurements":{"a":"x"}`), "data.baseData.measurements", ErrMalformed},
		{"mis-cased exception stack", `{` + base + `,"data":{"baseType":"ExceptionData","baseData":{"exceptions":[{"message":"m","StACk":false}]}}}`, "data.baseData.exceptions[0].stack", ErrMalformed},
		{"mis-cased metric value", `{` + base + `,"data":{"baseType":"MetricData","baseData":{"metrics":[{"name":"m","Value":1}]}}}`, "data.baseData.metrics[0].value", ErrMissingField},
		{"Kelvin sign folds to k", `{"name":"n","time":"2024-05-06T07:08:09Z","i\u212aey":"k","data":{}}`, "iKey", ErrMissingField},
		{"unknown key passes", req(okReq + `,"custom":1`), "", nil},
		{"mis-cased key in custom base type passes", `{` + base + `,"data":{"baseType":"Custom","baseData":{"ID":1}}}`, "", nil},
		{"property keys keep their case", req(okReq + `,"properties":{"ID":"x","Url":"y"}`), "", nil},
		// Types the wire model decodes strictly.
		{"ver not an integer", `{` + base[:7] + `.5` + base[7:] + `,"data":{}}`, "ver", ErrMalformed},
		{"baseData ver a string", req(okReq[:6] + `"2"` + okReq[7:]), "data.baseData.ver", ErrMalformed},
		{"measurement not a number", req(okReq + `,"measurements":{"a":"x"}`), `data.baseData.measurements["a"]`, ErrMalformed},
		{"severity as a name", `{` + base + `,"data":{"baseType":"MessageData","baseData":{"message":"m","severityLevel":"Warning"}}}`, "", nil},
		{"severity as a number", `{` + base + `,"data":{"baseType":"MessageData","baseData":{"message":"m","severityLevel":3}}}`, "", nil},
		{"severity out of range", `{` + base + `,"data":{"baseType":"MessageData","baseData":{"message":"m","severityLevel":7}}}`, "data.baseData.severityLevel", ErrMalformed},
		{"severity an object", `{` + base + `,"data":{"baseType":"ExceptionData","baseData":{"exceptions":[{"message":"m"}],"severityLevel":{}}}}`, "data.baseData.severityLevel", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]byte(tt.raw))
			if tt.err == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Validate = %v, want %v", err, tt.err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate = %v, want field %s", err, tt.field)
			}
			// A mis-cased key is named as found, so that the sender
			// sees what to fix.
			if strings.HasPrefix(tt.name, "mis-cased") && !strings.Contains(err.Error(), "case-sensitive") {
				t.Fatalf("Validate = %v, want it to say keys are case-sensitive", err)
			}
		})
	}
	if err := Validate(make([]byte, 64<<10+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized input: %v, want ErrTooLarge", err)
	}
}
