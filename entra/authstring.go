package entra

import (
	"fmt"
	"strings"
)

// EnvAuthenticationString is the environment variable the Azure exporters
// read to turn Entra ID on: "Authorization=AAD" for the system-assigned
// managed identity, "Authorization=AAD;ClientId=<client id>" for a
// user-assigned one.
const EnvAuthenticationString = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"

// ParseAuthenticationString reads an authentication string as the Azure
// exporters do: semicolon-separated key=value pairs, keys case-insensitive,
// Authorization=AAD required (AAD case-insensitive), ClientId optional. It
// returns the managed identity it names. Errors wrap ErrInvalidConfig and
// name what is wrong; they never quote a value other than Authorization's.
func ParseAuthenticationString(s string) (Options, error) {
	var (
		o    = Options{Credential: ManagedIdentity}
		auth string
		seen = map[string]bool{}
		errs []string
	)
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			errs = append(errs, fmt.Sprintf("%q is not key=value", truncate(part)))
			continue
		}
		key := strings.ToLower(k)
		if seen[key] {
			errs = append(errs, fmt.Sprintf("%s given twice", k))
			continue
		}
		seen[key] = true
		switch key {
		case "authorization":
			auth = v
		case "clientid":
			if v == "" {
				errs = append(errs, "ClientId is empty")
			}
			o.ClientID = v
		default:
			errs = append(errs, fmt.Sprintf("unknown key %q (want Authorization and ClientId)", truncate(k)))
		}
	}
	switch {
	case !seen["authorization"]:
		errs = append(errs, "Authorization=AAD is missing")
	case !strings.EqualFold(auth, "AAD"):
		errs = append(errs, fmt.Sprintf("Authorization=%q: only AAD is supported", truncate(auth)))
	}
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("%w: authentication string: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return o, nil
}

// truncate shortens what an error quotes.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// FromEnvironment returns the Source that APPLICATIONINSIGHTS_AUTHENTICATION_STRING
// asks for (through lookupEnv, os.LookupEnv in production), or nil when the
// variable is unset or blank. Errors wrap ErrInvalidConfig and name the
// variable.
func FromEnvironment(lookupEnv func(string) (string, bool)) (*Source, error) {
	o, ok, err := OptionsFromEnvironment(lookupEnv)
	if err != nil || !ok {
		return nil, err
	}
	return NewSource(o)
}

// OptionsFromEnvironment parses APPLICATIONINSIGHTS_AUTHENTICATION_STRING
// (through lookupEnv); ok is false when the variable is unset or blank.
func OptionsFromEnvironment(lookupEnv func(string) (string, bool)) (o Options, ok bool, err error) {
	if lookupEnv == nil {
		return Options{}, false, nil
	}
	v, set := lookupEnv(EnvAuthenticationString)
	if !set || strings.TrimSpace(v) == "" {
		return Options{}, false, nil
	}
	o, err = ParseAuthenticationString(v)
	if err != nil {
		return Options{}, false, fmt.Errorf("%s: %w", EnvAuthenticationString, err)
	}
	return o, true, nil
}
