// Package breezetest holds the protocol's response vectors (testdata/
// responses.json): for each answer to a request of n items, which items are
// acknowledged, kept for a retry or dropped, and whether the endpoint backs
// off. Package breeze checks its pure classification against them, package
// sender its whole sending path. Only tests import it.
package breezetest

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
)

//go:embed testdata/responses.json
var responsesJSON []byte

// Epoch is the "now" of the vectors, for their HTTP dates.
var Epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Vector is one response case.
type Vector struct {
	Name           string            `json:"name"`
	Items          int               `json:"items"`
	Status         int               `json:"status"`
	Headers        map[string]string `json:"headers"`
	Body           json.RawMessage   `json:"body"`
	RawBody        *string           `json:"raw_body"`
	TransportError string            `json:"transport_error"`
	Then           *struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"then"`
	Ack     []int             `json:"ack"`
	Keep    []int             `json:"keep"`
	Drop    map[string]string `json:"drop"`
	Backoff bool              `json:"backoff"`
	// RecordDelay lists the kept items that wait a per-record delay
	// (the endpoint accepted items and does not back off).
	RecordDelay []int    `json:"record_delay"`
	WaitMin     *float64 `json:"wait_at_least_s"`
	WaitMax     *float64 `json:"wait_at_most_s"`
}

// ResponseBody returns the body of the answer: RawBody if set, else Body.
func (c Vector) ResponseBody() string {
	if c.RawBody != nil {
		return *c.RawBody
	}
	return string(c.Body)
}

// Vectors returns every vector, failing t if the file does not parse or
// has lost cases.
func Vectors(t testing.TB) []Vector {
	t.Helper()
	var doc struct {
		Cases []Vector `json:"cases"`
	}
	if err := json.Unmarshal(responsesJSON, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 27 {
		t.Fatalf("only %d cases", len(doc.Cases))
	}
	return doc.Cases
}

// DropByIndex turns {reason: [idx]} into {"idx": reason} like the vectors.
func DropByIndex(drop map[string][]int) map[string]string {
	out := map[string]string{}
	for reason, idx := range drop {
		for _, i := range idx {
			out[strconv.Itoa(i)] = reason
		}
	}
	return out
}

// Sorted returns a sorted copy of v, empty rather than nil.
func Sorted(v []int) []int {
	v = slices.Clone(v)
	slices.Sort(v)
	if v == nil {
		v = []int{}
	}
	return v
}

// NonNil returns m, or an empty map for nil.
func NonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
