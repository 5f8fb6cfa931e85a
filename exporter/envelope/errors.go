package envelope

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them, so
// callers branch with errors.Is.
var (
	// ErrInvalidConfig reports a [Config] that [NewConverter] refuses; each
	// of its problems wraps it.
	ErrInvalidConfig = errors.New("envelope: invalid configuration")
	// ErrInvalidSpan reports a span that cannot become an envelope: nil, or
	// without a valid trace and span id.
	ErrInvalidSpan = errors.New("envelope: invalid span")
	// ErrTooLarge reports an envelope that stays over MaxEnvelopeBytes even
	// after trimming, or (from Validate) an input over that size.
	ErrTooLarge = errors.New("envelope: envelope too large")
	// ErrConversion reports an unexpected failure (a recovered panic) while
	// converting a span. It indicates a bug; the span is skipped.
	ErrConversion = errors.New("envelope: conversion failed")

	// ErrMalformed reports input to Validate that is not a JSON object of the
	// expected shape.
	ErrMalformed = errors.New("envelope: malformed")
	// ErrMissingField reports a required field that is absent or empty.
	ErrMissingField = errors.New("required field missing or empty")
	// ErrFieldTooLong reports a field over its schema length limit.
	ErrFieldTooLong = errors.New("field too long")
)

// FieldError names the envelope field that failed validation, as a dotted
// JSON path such as "data.baseData.responseCode".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "envelope: " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the sentinel (ErrMissingField, ErrFieldTooLong or
// ErrMalformed).
func (e *FieldError) Unwrap() error { return e.Err }
