// Package connstring parses Application Insights connection strings.
//
// A connection string is a list of key=value pairs separated by ';', for
// example
//
//	InstrumentationKey=<guid>;IngestionEndpoint=https://westus2-0.in.applicationinsights.azure.com/
//
// # Rules
//
// The rules are the decisions stated in the repository's docs/protocol.md:
//
//   - keys are case-insensitive; keys and values are trimmed of white space;
//     empty segments (a trailing ';', or ";;") are ignored;
//   - a pair is split at its first '=', so values may contain '=';
//   - InstrumentationKey is required and must be a GUID (8-4-4-4-12 hex
//     digits, either case); it is kept as given;
//   - the whole string is at most 4096 characters;
//   - Authorization is absent, "ikey" or "AAD" (case-insensitive); with AAD
//     the sender needs a token source, and the token scope is
//     "<AADAudience>/.default", by default "https://monitor.azure.com//.default";
//   - the ingestion endpoint is IngestionEndpoint if set, else
//     https://[<Location>.]dc.<EndpointSuffix> if EndpointSuffix is set, else
//     https://dc.services.visualstudio.com; a trailing '/' is stripped and
//     telemetry is posted to <endpoint>/v2.1/track;
//   - unknown keys (LiveEndpoint, ApplicationId, ...) are ignored; a key given
//     twice with different values is an error.
//
// # Secrets
//
// A connection string may carry secrets (and the instrumentation key should not
// appear in logs in full), and so may an endpoint URL (user:password@, or a
// signature in its query string). Errors therefore name the offending key or
// segment position, never echo the string or a value;
// [ConnectionString.String] and [ConnectionString.LogValue] print a redacted
// form, and [RedactURL] shows an endpoint without its user information and
// query wherever one is shown.
//
// # Precedence
//
// [Resolve] picks the connection string: an explicit value beats the
// APPLICATIONINSIGHTS_CONNECTION_STRING environment variable, which beats
// nothing ([ErrNotFound]).
package connstring
