package connstring

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Parse and Resolve return an *Error wrapping one of them;
// callers branch with errors.Is.
var (
	// ErrEmpty is returned for an empty (or all white space) string.
	ErrEmpty = errors.New("empty connection string")

	// ErrTooLong is returned for a string longer than MaxLen characters.
	ErrTooLong = errors.New("connection string longer than 4096 characters")

	// ErrSyntax is returned for a segment without '=' or with an empty key.
	ErrSyntax = errors.New("malformed segment")

	// ErrMissingKey is returned when InstrumentationKey is absent or empty.
	ErrMissingKey = errors.New("required key missing")

	// ErrInvalidValue is returned when a value fails validation: the
	// instrumentation key is not a GUID, an endpoint is not an absolute
	// http(s) URL, Location is not alphanumeric, Authorization is not "AAD"
	// or "ikey".
	ErrInvalidValue = errors.New("invalid value")

	// ErrDuplicateKey is returned when a key appears twice with different
	// values.
	ErrDuplicateKey = errors.New("duplicate key")

	// ErrNotFound is returned by Resolve when neither an explicit value nor
	// the environment variable gives a connection string.
	ErrNotFound = errors.New("no connection string: set one explicitly or in " + EnvVar)
)

// Error reports what is wrong with a connection string. It names the key or
// the segment position concerned and never contains a value (values may be
// secrets), except for a short, truncated excerpt of a segment that has no
// '=' (which is not a key=value pair and so names itself).
type Error struct {
	// Source says where the string came from ("explicit", the environment
	// variable's name) when known, else "".
	Source string
	// Key is the canonical name of the key concerned, or "".
	Key string
	// Segment is the 1-based position of the segment concerned, or 0.
	Segment int
	// Excerpt is a short excerpt of a malformed segment, or "".
	Excerpt string
	// Detail says what is wrong, in words.
	Detail string
	// Err is one of the sentinel errors of this package.
	Err error
}

func (e *Error) Error() string {
	msg := "connstring: "
	if e.Source != "" {
		msg += e.Source + ": "
	}
	switch {
	case e.Key != "":
		msg += e.Key + ": "
	case e.Segment > 0:
		msg += "segment " + strconv.Itoa(e.Segment)
		if e.Excerpt != "" {
			msg += " " + strconv.Quote(e.Excerpt)
		}
		msg += ": "
	}
	msg += e.Err.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	return msg
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func keyError(key string, err error, detail string, args ...any) *Error {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &Error{Key: key, Err: err, Detail: detail}
}
