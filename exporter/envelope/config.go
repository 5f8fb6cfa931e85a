package envelope

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel/sdk"
)

// Config configures a Converter. Only InstrumentationKey is required.
type Config struct {
	// InstrumentationKey is the Application Insights instrumentation key
	// (a GUID, either case), written into every envelope's iKey.
	InstrumentationKey string

	// Version is the aispool version reported in ai.internal.sdkVersion
	// ("go<go version>:otel<sdk version>:aispool<Version>"). Empty means the
	// module version from the build information, or "dev".
	Version string

	// HostName is the last fallback of ai.cloud.roleInstance, after the
	// resource's service.instance.id and host.name. Empty means os.Hostname.
	HostName string

	// ServerClientErrorsAreSuccess marks a request whose span status is
	// Unset and whose HTTP status code is 4xx as successful, following the
	// OpenTelemetry convention that 4xx is the client's fault. Off by
	// default: Application Insights users expect 4xx requests to count as
	// failed, as every Azure Monitor exporter does.
	ServerClientErrorsAreSuccess bool

	// NonErrorStatusCodes lists HTTP status codes that always count as
	// success, on requests and dependencies, whatever the span status
	// (for example 404 for lookups where "not found" is normal).
	NonErrorStatusCodes []int

	// SkipSpanEventMessages drops span events other than "exception"
	// instead of sending each as a MessageData (trace) envelope.
	SkipSpanEventMessages bool
}

// validIKey reports whether s is a GUID (8-4-4-4-12 hex digits).
func validIKey(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// NewConverter checks cfg and returns a [Converter]. An invalid
// configuration gives every problem at once, joined with [errors.Join],
// each wrapping [ErrInvalidConfig].
func NewConverter(cfg Config) (*Converter, error) {
	var errs []error
	key := strings.TrimSpace(cfg.InstrumentationKey)
	switch {
	case key == "":
		errs = append(errs, fmt.Errorf("%w: instrumentation key is empty", ErrInvalidConfig))
	case !validIKey(key):
		errs = append(errs, fmt.Errorf("%w: instrumentation key is not a GUID", ErrInvalidConfig))
	}
	for _, code := range cfg.NonErrorStatusCodes {
		if code < 100 || code > 599 {
			errs = append(errs, fmt.Errorf("%w: non-error status code %d is not an HTTP status", ErrInvalidConfig, code))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.InstrumentationKey = key
	cfg.NonErrorStatusCodes = append([]int(nil), cfg.NonErrorStatusCodes...)
	if cfg.Version == "" {
		cfg.Version = moduleVersion()
	}
	if cfg.HostName == "" {
		cfg.HostName, _ = os.Hostname()
	}
	c := &Converter{
		cfg:        cfg,
		sdkVersion: sdkVersion(runtime.Version(), sdk.Version(), cfg.Version),
		resources:  make(map[resourceKey][]byte),
	}
	c.ikey = appendQuoted(append([]byte(nil), `,"iKey":`...), key, maxIKey)
	return c, nil
}

// sdkVersion builds ai.internal.sdkVersion; the tag limit (64) is applied
// when it is written.
func sdkVersion(goVersion, otelVersion, version string) string {
	return "go" + strings.TrimPrefix(goVersion, "go") + ":otel" + otelVersion + ":aispool" + strings.TrimPrefix(version, "v")
}

// moduleVersion returns the version of the aispool module this binary was
// built with, or "dev" for a development build.
func moduleVersion() string {
	const path = "github.com/aispool/aispool"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	mod := &info.Main
	if mod.Path != path {
		mod = nil
		for _, d := range info.Deps {
			if d.Path == path {
				mod = d
				break
			}
		}
	}
	if mod == nil || mod.Version == "" || mod.Version == "(devel)" {
		return "dev"
	}
	return mod.Version
}
