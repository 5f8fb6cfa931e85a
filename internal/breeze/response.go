package breeze

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Request headers of a track request as aispool's sender writes it: a gzip'd
// body of newline-delimited JSON envelopes.
const (
	ContentType     = "application/x-json-stream"
	ContentEncoding = "gzip"
)

// ErrBadResponse is wrapped by [DecodeResponse] for a body that is not a
// track response.
var ErrBadResponse = errors.New("breeze: response body is not a track response")

// TrackResponse is the JSON body of a track response: what the service
// answers, and what aispool's local (package ingest) and chaos endpoints
// write.
type TrackResponse struct {
	// ItemsReceived is the number of items in the request.
	ItemsReceived int `json:"itemsReceived"`
	// ItemsAccepted is the number of items accepted.
	ItemsAccepted int `json:"itemsAccepted"`
	// Errors lists the items refused; the endpoints write [] (not null)
	// when there are none.
	Errors []ItemError `json:"errors"`
}

// ItemError is one entry of a track response's errors[].
type ItemError struct {
	// Index is the 0-based position of the item in the request; -1 when the
	// entry has none.
	Index int `json:"index"`
	// StatusCode is the item's HTTP-style status: 408, 429, 439, 500, 502,
	// 503 or 504 ask for a retry, other codes refuse the item for good.
	StatusCode int `json:"statusCode"`
	// Message says why, for people; "Telemetry sampled out." marks an item
	// the service sampled out.
	Message string `json:"message"`
}

// DecodeResponse decodes a track response body. Unknown fields are ignored;
// an error entry without an index gets Index -1. A body that is not such a
// JSON object, or lacks itemsReceived (every track response has it: a proxy's
// or a wrong host's JSON does not), gives an error wrapping [ErrBadResponse].
func DecodeResponse(body []byte) (TrackResponse, error) {
	var raw struct {
		ItemsReceived *int `json:"itemsReceived"`
		ItemsAccepted int  `json:"itemsAccepted"`
		Errors        []struct {
			Index      *int   `json:"index"`
			StatusCode int    `json:"statusCode"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return TrackResponse{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if raw.ItemsReceived == nil {
		return TrackResponse{}, fmt.Errorf("%w: no itemsReceived", ErrBadResponse)
	}
	r := TrackResponse{ItemsReceived: *raw.ItemsReceived, ItemsAccepted: raw.ItemsAccepted}
	if len(raw.Errors) > 0 {
		r.Errors = make([]ItemError, len(raw.Errors))
		for i, e := range raw.Errors {
			r.Errors[i] = ItemError{Index: -1, StatusCode: e.StatusCode, Message: e.Message}
			if e.Index != nil {
				r.Errors[i].Index = *e.Index
			}
		}
	}
	return r, nil
}
