package connstring

import (
	"log/slog"
	"net/url"
	"strings"
	"unicode/utf8"
)

const (
	// EnvVar is the environment variable Resolve falls back to.
	EnvVar = "APPLICATIONINSIGHTS_CONNECTION_STRING"

	// MaxLen is the maximum length of a connection string, in characters.
	MaxLen = 4096

	// DefaultEndpoint is the ingestion endpoint used when the string names
	// neither IngestionEndpoint nor EndpointSuffix.
	DefaultEndpoint = "https://dc.services.visualstudio.com"

	// DefaultAADAudience is the Entra ID audience used when the string has
	// Authorization=AAD but no AADAudience.
	DefaultAADAudience = "https://monitor.azure.com/"

	// TrackPath is appended to the endpoint to form the track URL.
	TrackPath = "/v2.1/track"
)

// Canonical key names.
const (
	KeyInstrumentationKey = "InstrumentationKey"
	KeyIngestionEndpoint  = "IngestionEndpoint"
	KeyEndpointSuffix     = "EndpointSuffix"
	KeyLocation           = "Location"
	KeyAuthorization      = "Authorization"
	KeyAADAudience        = "AADAudience"
)

// known maps lower-cased key names to their canonical spelling; other keys
// are ignored.
var known = map[string]string{
	"instrumentationkey": KeyInstrumentationKey,
	"ingestionendpoint":  KeyIngestionEndpoint,
	"endpointsuffix":     KeyEndpointSuffix,
	"location":           KeyLocation,
	"authorization":      KeyAuthorization,
	"aadaudience":        KeyAADAudience,
}

// ConnectionString is a parsed, validated connection string.
//
// Its String and LogValue methods redact the instrumentation key, so a
// ConnectionString may be logged.
type ConnectionString struct {
	// InstrumentationKey is the resource's GUID, as given (case kept).
	InstrumentationKey string
	// Endpoint is the ingestion endpoint's base URL without a trailing '/'.
	Endpoint string
	// TrackURL is the URL telemetry is posted to: Endpoint + "/v2.1/track"
	// (any query of the endpoint kept).
	TrackURL string
	// AAD reports Authorization=AAD: requests need a bearer token.
	AAD bool
	// AADAudience is the AADAudience value as given, or "" when absent.
	AADAudience string
}

// TokenScope returns the scope to request an Entra ID token for:
// "<AADAudience>/.default", by default "https://monitor.azure.com//.default"
// (the audience keeps its trailing '/', as the Python and .NET exporters do).
func (c *ConnectionString) TokenScope() string {
	aud := c.AADAudience
	if aud == "" {
		aud = DefaultAADAudience
	}
	return aud + "/.default"
}

// RedactedKey returns the instrumentation key shortened for logs.
func (c *ConnectionString) RedactedKey() string { return Redact(c.InstrumentationKey) }

// String returns a redacted form, safe for logs: the key shortened, the
// endpoint without user information or query ([RedactURL]).
func (c *ConnectionString) String() string {
	s := KeyInstrumentationKey + "=" + c.RedactedKey() + ";" + KeyIngestionEndpoint + "=" + c.RedactedEndpoint()
	if c.AAD {
		s += ";" + KeyAuthorization + "=AAD"
	}
	return s
}

// LogValue implements slog.LogValuer with the redacted key and the endpoint's
// host.
func (c *ConnectionString) LogValue() slog.Value {
	host := c.Endpoint
	if u, err := url.Parse(c.Endpoint); err == nil {
		host = u.Host
	}
	return slog.GroupValue(
		slog.String("ikey", c.RedactedKey()),
		slog.String("endpoint", host),
		slog.Bool("aad", c.AAD),
	)
}

// Redact returns the first 8 characters of an instrumentation key followed
// by "…", or "…" alone for a shorter key, so logs can tell resources apart
// without carrying the full key.
func Redact(ikey string) string {
	if len(ikey) <= 8 {
		return "…"
	}
	// Cut at a rune boundary in case the caller passes something odd.
	n := 8
	for n > 0 && !utf8.RuneStart(ikey[n]) {
		n--
	}
	return ikey[:n] + "…"
}

// Resolve returns the connection string to use: explicit if it is not blank,
// else the value of the environment variable APPLICATIONINSIGHTS_CONNECTION_STRING
// as reported by lookupEnv (os.LookupEnv in production; nil means no
// environment), else ErrNotFound. The chosen string must parse: an explicit
// string that does not parse is an error, not a reason to fall back.
func Resolve(explicit string, lookupEnv func(string) (string, bool)) (*ConnectionString, error) {
	src, s := "explicit", explicit
	if strings.TrimSpace(s) == "" {
		s = ""
		if lookupEnv != nil {
			if v, ok := lookupEnv(EnvVar); ok && strings.TrimSpace(v) != "" {
				src, s = EnvVar, v
			}
		}
	}
	if s == "" {
		return nil, &Error{Err: ErrNotFound}
	}
	cs, err := Parse(s)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Source = src
		}
		return nil, err
	}
	return cs, nil
}

// Parse parses and validates a connection string. Errors are *Error values
// wrapping a sentinel of this package; they never contain the string.
func Parse(s string) (*ConnectionString, error) {
	if len(s) > 4*MaxLen || utf8.RuneCountInString(s) > MaxLen {
		return nil, &Error{Err: ErrTooLong}
	}
	values := make(map[string]string, 4)
	seg, pairs := 0, 0
	for part := range strings.SplitSeq(s, ";") {
		seg++
		part = strings.TrimSpace(part)
		if part == "" {
			continue // trailing ';' or ";;"
		}
		pairs++
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, &Error{Segment: seg, Excerpt: excerpt(part), Err: ErrSyntax, Detail: "no '=' in segment"}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, &Error{Segment: seg, Err: ErrSyntax, Detail: "empty key"}
		}
		canon, ok := known[strings.ToLower(k)]
		if !ok {
			continue // LiveEndpoint, ApplicationId, ProfilerEndpoint, ...
		}
		if old, dup := values[canon]; dup && old != v {
			return nil, keyError(canon, ErrDuplicateKey, "given twice with different values")
		}
		values[canon] = v
	}
	if pairs == 0 {
		return nil, &Error{Err: ErrEmpty}
	}

	cs := &ConnectionString{InstrumentationKey: values[KeyInstrumentationKey]}
	if cs.InstrumentationKey == "" {
		return nil, keyError(KeyInstrumentationKey, ErrMissingKey, "")
	}
	if !isGUID(cs.InstrumentationKey) {
		return nil, keyError(KeyInstrumentationKey, ErrInvalidValue, "not a GUID: want 8-4-4-4-12 hex digits")
	}

	switch auth := values[KeyAuthorization]; {
	case auth == "", strings.EqualFold(auth, "ikey"):
	case strings.EqualFold(auth, "aad"):
		cs.AAD = true
	default:
		return nil, keyError(KeyAuthorization, ErrInvalidValue, "unsupported mechanism: want AAD or ikey")
	}
	if aud := values[KeyAADAudience]; aud != "" {
		if _, err := absoluteURL(aud); err != nil {
			return nil, keyError(KeyAADAudience, ErrInvalidValue, "%s", err.Error())
		}
		cs.AADAudience = aud
	}

	base, key, err := endpoint(values)
	if err != nil {
		return nil, keyError(key, ErrInvalidValue, "%s", err.Error())
	}
	u, err := absoluteURL(base)
	if err != nil {
		return nil, keyError(key, ErrInvalidValue, "%s", err.Error())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	cs.Endpoint = u.String()
	u.Path += TrackPath
	cs.TrackURL = u.String()
	return cs, nil
}

// endpoint applies IngestionEndpoint > EndpointSuffix (+Location) > default
// and returns the base URL and the key it came from (for errors).
func endpoint(values map[string]string) (base, key string, err error) {
	if v := values[KeyIngestionEndpoint]; v != "" {
		return v, KeyIngestionEndpoint, nil
	}
	suffix := strings.TrimLeft(values[KeyEndpointSuffix], ".")
	if suffix == "" {
		return DefaultEndpoint, "", nil
	}
	if strings.ContainsAny(suffix, "/?#@: ") {
		return "", KeyEndpointSuffix, errString("not a DNS suffix")
	}
	host := "dc." + suffix
	if loc := strings.TrimRight(values[KeyLocation], "."); loc != "" {
		for _, r := range loc {
			if !isAlnum(r) {
				return "", KeyLocation, errString("not alphanumeric")
			}
		}
		host = loc + "." + host
	}
	return "https://" + host, KeyEndpointSuffix, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// absoluteURL parses s as an absolute http(s) URL with a host and no fragment.
// Its errors never contain s.
func absoluteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errString("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errString("not an absolute http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return nil, errString("URL has no host")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errString("URL has a fragment")
	case u.Opaque != "":
		return nil, errString("not an absolute http or https URL")
	}
	return u, nil
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isGUID reports whether s is 8-4-4-4-12 hex digits, either case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// excerpt returns at most 12 characters of a malformed segment, so an error
// can name it without carrying a secret that was pasted in by mistake.
func excerpt(s string) string {
	const max = 12
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
