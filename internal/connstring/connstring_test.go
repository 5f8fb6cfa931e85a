package connstring

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

type vectorCase struct {
	Name           string `json:"name"`
	Input          string `json:"input"`
	InputGenerated *struct {
		Prefix string `json:"prefix"`
		Repeat string `json:"repeat"`
		Count  int    `json:"count"`
	} `json:"input_generated"`
	IKey          string `json:"ikey"`
	Endpoint      string `json:"endpoint"`
	TrackURL      string `json:"track_url"`
	AAD           bool   `json:"aad"`
	TokenScope    string `json:"token_scope"`
	ErrorMentions string `json:"error_mentions"`
	ErrorMustNot  string `json:"error_must_not_contain"`
}

func loadVectors(t *testing.T) []vectorCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/connection-strings.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 20 {
		t.Fatalf("only %d cases loaded", len(doc.Cases))
	}
	return doc.Cases
}

// pairValues returns the values of the key=value pairs of s (for checking that
// errors do not echo them).
func pairValues(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ";") {
		if _, v, ok := strings.Cut(part, "="); ok && len(strings.TrimSpace(v)) >= 4 {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func TestParseVectors(t *testing.T) {
	for _, tc := range loadVectors(t) {
		t.Run(tc.Name, func(t *testing.T) {
			in := tc.Input
			if g := tc.InputGenerated; g != nil {
				in = g.Prefix + strings.Repeat(g.Repeat, g.Count)
			}
			cs, err := Parse(in)
			if tc.ErrorMentions != "" {
				if err == nil {
					t.Fatalf("Parse succeeded (%v), want an error mentioning %q", cs, tc.ErrorMentions)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.ErrorMentions) {
					t.Errorf("error %q does not mention %q", msg, tc.ErrorMentions)
				}
				if tc.ErrorMustNot != "" && strings.Contains(msg, tc.ErrorMustNot) {
					t.Errorf("error %q contains %q", msg, tc.ErrorMustNot)
				}
				for _, v := range pairValues(in) {
					if strings.Contains(msg, v) {
						t.Errorf("error %q echoes the value %q", msg, v)
					}
				}
				if in != "" && strings.Contains(msg, in) {
					t.Errorf("error echoes the whole input")
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Errorf("error %T is not an *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cs.InstrumentationKey != tc.IKey {
				t.Errorf("ikey = %q, want %q", cs.InstrumentationKey, tc.IKey)
			}
			if cs.Endpoint != tc.Endpoint {
				t.Errorf("endpoint = %q, want %q", cs.Endpoint, tc.Endpoint)
			}
			if tc.TrackURL != "" && cs.TrackURL != tc.TrackURL {
				t.Errorf("track URL = %q, want %q", cs.TrackURL, tc.TrackURL)
			}
			u, err := url.Parse(cs.TrackURL)
			if err != nil || !u.IsAbs() || !strings.HasSuffix(u.Path, TrackPath) {
				t.Errorf("track URL %q is not an absolute URL ending in %s (%v)", cs.TrackURL, TrackPath, err)
			}
			if strings.Contains(tc.Input, "?a=b") {
				if u.Path != "/in/v2.1/track" || u.RawQuery != "a=b" {
					t.Errorf("track URL %q: path %q query %q, want /in/v2.1/track and a=b", cs.TrackURL, u.Path, u.RawQuery)
				}
			}
			if cs.AAD != tc.AAD {
				t.Errorf("AAD = %v, want %v", cs.AAD, tc.AAD)
			}
			if tc.TokenScope != "" && cs.TokenScope() != tc.TokenScope {
				t.Errorf("scope = %q, want %q", cs.TokenScope(), tc.TokenScope)
			}
		})
	}
}

func TestParseMore(t *testing.T) {
	const key = "0123abcd-0000-0000-0000-000000000000"
	tests := []struct {
		name     string
		in       string
		endpoint string
		err      error
		mentions string
	}{
		{"leading and double semicolons", ";;InstrumentationKey=" + key + ";;", DefaultEndpoint, nil, ""},
		{"identical duplicate is fine", "InstrumentationKey=" + key + ";instrumentationKey=" + key, DefaultEndpoint, nil, ""},
		{"conflicting duplicate", "InstrumentationKey=" + key + ";IngestionEndpoint=https://a.example;ingestionendpoint=https://b.example", "", ErrDuplicateKey, "IngestionEndpoint"},
		{"empty ikey", "InstrumentationKey=;IngestionEndpoint=https://a.example", "", ErrMissingKey, "InstrumentationKey"},
		{"blank", "  ;  ", "", ErrEmpty, "empty"},
		{"empty key", "InstrumentationKey=" + key + ";=x", "", ErrSyntax, "segment 2"},
		{"ikey too long", "InstrumentationKey=" + key + "0", "", ErrInvalidValue, "InstrumentationKey"},
		{"ikey braces", "InstrumentationKey={" + key[:34] + "}", "", ErrInvalidValue, "InstrumentationKey"},
		{"ftp endpoint", "InstrumentationKey=" + key + ";IngestionEndpoint=ftp://a.example", "", ErrInvalidValue, "IngestionEndpoint"},
		{"endpoint without host", "InstrumentationKey=" + key + ";IngestionEndpoint=https:///x", "", ErrInvalidValue, "IngestionEndpoint"},
		{"endpoint with fragment", "InstrumentationKey=" + key + ";IngestionEndpoint=https://a.example/#frag", "", ErrInvalidValue, "IngestionEndpoint"},
		{"location ignored without suffix", "InstrumentationKey=" + key + ";Location=westus", DefaultEndpoint, nil, ""},
		{"location ignored with ingestion endpoint", "InstrumentationKey=" + key + ";Location=westus;EndpointSuffix=x.example;IngestionEndpoint=https://a.example", "https://a.example", nil, ""},
		{"suffix leading dot, location trailing dot", "InstrumentationKey=" + key + ";EndpointSuffix=.x.example;Location=westus2.", "https://westus2.dc.x.example", nil, ""},
		{"bad location", "InstrumentationKey=" + key + ";EndpointSuffix=x.example;Location=west/us", "", ErrInvalidValue, "Location"},
		{"bad suffix", "InstrumentationKey=" + key + ";EndpointSuffix=x.example/evil", "", ErrInvalidValue, "EndpointSuffix"},
		{"auth ikey", "InstrumentationKey=" + key + ";Authorization=ikey", DefaultEndpoint, nil, ""},
		{"bad audience", "InstrumentationKey=" + key + ";Authorization=AAD;AADAudience=not a url", "", ErrInvalidValue, "AADAudience"},
		{"endpoint many slashes", "InstrumentationKey=" + key + ";IngestionEndpoint=https://a.example/p//", "https://a.example/p", nil, ""},
		{"exactly 4096", "InstrumentationKey=" + key + ";Pad=" + strings.Repeat("x", MaxLen-len("InstrumentationKey=;Pad=")-len(key)), DefaultEndpoint, nil, ""},
		{"4097 multibyte", "InstrumentationKey=" + key + ";Pad=" + strings.Repeat("é", MaxLen+1-len("InstrumentationKey=;Pad=")-len(key)), "", ErrTooLong, "4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Parse(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.mentions) {
					t.Errorf("error %q does not mention %q", err, tc.mentions)
				}
				for _, v := range pairValues(tc.in) {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q echoes %q", err, v)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cs.Endpoint != tc.endpoint {
				t.Errorf("endpoint = %q, want %q", cs.Endpoint, tc.endpoint)
			}
			if cs.TrackURL != tc.endpoint+TrackPath {
				t.Errorf("track URL = %q", cs.TrackURL)
			}
		})
	}
}

func TestMalformedSegmentExcerptIsShort(t *testing.T) {
	secret := "SharedAccessSignatureSecretValue1234567890"
	_, err := Parse("InstrumentationKey=00000000-0000-0000-0000-000000000000;" + secret)
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), secret[:13]) || !strings.Contains(err.Error(), "segment 2") {
		t.Errorf("error %q: want a short excerpt naming segment 2", err)
	}
}

func TestResolvePrecedence(t *testing.T) {
	const (
		a = "InstrumentationKey=00000000-0000-0000-0000-00000000000a"
		b = "InstrumentationKey=00000000-0000-0000-0000-00000000000b"
	)
	env := func(v string, set bool) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k != EnvVar {
				t.Errorf("looked up %q", k)
			}
			return v, set
		}
	}
	tests := []struct {
		name     string
		explicit string
		lookup   func(string) (string, bool)
		want     string // ikey suffix, or "" for an error
		err      error
	}{
		{"explicit beats env", a, env(b, true), "a", nil},
		{"env when no explicit", "", env(b, true), "b", nil},
		{"blank explicit falls back", "   ", env(b, true), "b", nil},
		{"nothing", "", env("", false), "", ErrNotFound},
		{"env set but blank", "", env("  ", true), "", ErrNotFound},
		{"nil lookup", "", nil, "", ErrNotFound},
		{"bad explicit does not fall back", "InstrumentationKey=nope", env(b, true), "", ErrInvalidValue},
		{"bad env", "", env("garbage", true), "", ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := Resolve(tc.explicit, tc.lookup)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(cs.InstrumentationKey, tc.want) {
				t.Errorf("ikey = %s, want suffix %s", cs.InstrumentationKey, tc.want)
			}
		})
	}
	_, err := Resolve("", env("garbage", true))
	if !strings.Contains(err.Error(), EnvVar) {
		t.Errorf("error %q does not say the value came from %s", err, EnvVar)
	}
}

func TestRedaction(t *testing.T) {
	const key = "abcdef01-2345-6789-abcd-ef0123456789"
	cs, err := Parse("InstrumentationKey=" + key + ";Authorization=AAD")
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.RedactedKey(); got != "abcdef01…" {
		t.Errorf("RedactedKey = %q", got)
	}
	if s := cs.String(); strings.Contains(s, key) || !strings.Contains(s, "abcdef01…") {
		t.Errorf("String = %q", s)
	}
	if s := cs.LogValue().String(); strings.Contains(s, key) {
		t.Errorf("LogValue = %q", s)
	}
	for in, want := range map[string]string{"": "…", "short": "…", "12345678": "…", "123456789": "12345678…", "1234567é9": "1234567…"} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cs.TokenScope(); got != "https://monitor.azure.com//.default" {
		t.Errorf("TokenScope = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://dc.services.visualstudio.com/v2.1/track", "https://dc.services.visualstudio.com/v2.1/track"},
		{"http://user:pass@host:8080/x/v2.1/track?sig=abc&se=2030", "http://REDACTED@host:8080/x/v2.1/track?REDACTED"},
		{"https://user@host/", "https://REDACTED@host/"},
		{"https://host/p?", "https://host/p"},
		{"https://host/p#frag", "https://host/p"},
		{"mailto:secret@example.com", "mailto:REDACTED"},
		{"http://[::1]:namedport", "REDACTED"},
		{"", ""},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// An endpoint with credentials in its URL is shown without them.
func TestEndpointCredentialsRedacted(t *testing.T) {
	cs, err := Parse("InstrumentationKey=abcdef01-2345-6789-abcd-ef0123456789;" +
		"IngestionEndpoint=http://user:pa55word@host.example/x/?sig=s1gnature&code=c0de")
	if err != nil {
		t.Fatal(err)
	}
	if cs.TrackURL != "http://user:pa55word@host.example/x/v2.1/track?sig=s1gnature&code=c0de" {
		t.Fatalf("TrackURL = %q: the sender needs it whole", cs.TrackURL)
	}
	shown := []string{cs.String(), cs.LogValue().String(), cs.RedactedEndpoint(), cs.RedactedTrackURL()}
	for _, s := range shown {
		for _, secret := range []string{"user", "pa55word", "s1gnature", "c0de"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows %q", s, secret)
			}
		}
	}
	if got := cs.RedactedTrackURL(); got != "http://REDACTED@host.example/x/v2.1/track?REDACTED" {
		t.Errorf("RedactedTrackURL = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"InstrumentationKey=00000000-0000-0000-0000-000000000000",
		"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x.example/;Authorization=AAD;AADAudience=https://monitor.azure.us/",
		"InstrumentationKey=00000000-0000-0000-0000-000000000000;EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2",
		";;=;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if len(s) >= 48 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the input", err)
			}
			return
		}
		if !isGUID(cs.InstrumentationKey) {
			t.Fatalf("accepted ikey %q", cs.InstrumentationKey)
		}
		if strings.HasSuffix(cs.Endpoint, "/") {
			t.Fatalf("endpoint %q ends in /", cs.Endpoint)
		}
		u, err := url.Parse(cs.TrackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(u.Path, TrackPath) {
			t.Fatalf("track URL %q (%v)", cs.TrackURL, err)
		}
		if strings.Contains(cs.String(), cs.InstrumentationKey) {
			t.Fatalf("String %q holds the full key", cs.String())
		}
		r, err := url.Parse(cs.RedactedTrackURL())
		if err != nil || r.User != nil && r.User.String() != Redacted || r.RawQuery != "" && r.RawQuery != Redacted ||
			r.Host != u.Host || r.Path != u.Path {
			t.Fatalf("RedactedTrackURL %q of %q (%v)", cs.RedactedTrackURL(), cs.TrackURL, err)
		}
		// Parsing is deterministic and idempotent on what it accepted.
		again, err := Parse(s)
		if err != nil || *again != *cs {
			t.Fatalf("second parse differs: %v %v", again, err)
		}
	})
}
