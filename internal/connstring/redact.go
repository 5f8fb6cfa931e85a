package connstring

import "net/url"

// Redacted stands in for the parts of a URL that may carry credentials.
const Redacted = "REDACTED"

// RedactURL returns raw with the parts that may carry credentials replaced
// by [Redacted]: the user information (user:password@) and the query
// string (SAS tokens, signatures, codes). The scheme, host and path stay,
// so that a log still says where telemetry goes; a fragment is dropped. A
// string that does not parse as a URL is replaced whole.
//
// Use it wherever an endpoint is shown: logs, errors, command output.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Redacted
	}
	if u.User != nil {
		u.User = url.User(Redacted)
	}
	if u.RawQuery != "" {
		u.RawQuery = Redacted
	}
	u.ForceQuery = false
	if u.Opaque != "" {
		u.Opaque = Redacted
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// RedactedEndpoint returns Endpoint through [RedactURL].
func (c *ConnectionString) RedactedEndpoint() string { return RedactURL(c.Endpoint) }

// RedactedTrackURL returns TrackURL through [RedactURL].
func (c *ConnectionString) RedactedTrackURL() string { return RedactURL(c.TrackURL) }
