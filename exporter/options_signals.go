package exporter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Environment variables read by every exporter and by NewPipeline. An
// explicit option always beats the environment.
const (
	// EnvStorageDirectory is the base directory of the default spool
	// directories (the Azure exporters' storage_directory): the spool is
	// "<base>/<service>" (a Pipeline, a TraceExporter), "<base>/<service>-logs"
	// (a LogExporter alone) or "<base>/<service>-metrics" (a MetricExporter
	// alone). The default base is "<user cache dir>/aispool".
	EnvStorageDirectory = "APPLICATIONINSIGHTS_STORAGE_DIRECTORY"
	// EnvDisableOfflineStorage, when true (strconv.ParseBool), is the Azure
	// exporters' disable_offline_storage: see WithoutOfflineStorage. It has
	// no effect with WithSpool, WithSpoolDir, WithPipeline or WithoutSender
	// (a spool that another process drains must survive).
	EnvDisableOfflineStorage = "APPLICATIONINSIGHTS_DISABLE_OFFLINE_STORAGE"
)

// ErrInvalidConfig is wrapped by every configuration error of the
// exporters and NewPipeline; the error lists every problem found.
var ErrInvalidConfig = errors.New("exporter: invalid configuration")

// WithPipeline makes the exporter write to a Pipeline shared with the
// other exporters of the program: one spool and one in-process sender for
// traces, logs and metrics. The exporter's iKey comes from the pipeline's
// connection string. The pipeline's options apply, so an exporter given
// WithPipeline must not also be given WithConnectionString, WithSpoolDir,
// WithSpool, WithSpoolOptions, WithSenderConfig, WithTokenSource,
// WithoutSender or WithoutOfflineStorage. The exporter does not close the pipeline: shut the
// providers down first, then the pipeline.
func WithPipeline(p *Pipeline) Option {
	return optionFunc(func(c *config) { c.pipeline = p })
}

// WithoutOfflineStorage keeps telemetry only for the life of the process,
// as the Azure exporters do with disable_offline_storage: the spool is a
// private temporary directory, removed when the exporter (or pipeline)
// shuts down, so what the in-process sender has not delivered by then is
// lost. Export still returns only once the telemetry is on disk, which
// bounds memory under an outage. It cannot be combined with WithSpool,
// WithSpoolDir or WithoutSender. The environment variable
// APPLICATIONINSIGHTS_DISABLE_OFFLINE_STORAGE=true has the same effect
// when no spool is given.
func WithoutOfflineStorage() Option {
	return optionFunc(func(c *config) { c.noOffline = true })
}

// check reports every conflict between options, and resolves the offline
// storage setting from the options and the environment.
func (c *config) check() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	envOff := false
	if v, ok := c.lookupEnv(EnvDisableOfflineStorage); ok && strings.TrimSpace(v) != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			bad("%s=%q is not a boolean (true or false)", EnvDisableOfflineStorage, v)
		}
		envOff = b
	}
	if c.pipeline != nil {
		for _, o := range []struct {
			set  bool
			name string
		}{
			{c.connectionString != "", "WithConnectionString"}, {c.spoolDir != "", "WithSpoolDir"},
			{c.spool != nil, "WithSpool"}, {c.spoolOptionsSet, "WithSpoolOptions"},
			{c.senderConfigSet, "WithSenderConfig"}, {c.noSender, "WithoutSender"},
			{c.noOffline, "WithoutOfflineStorage"}, {c.tokenSource != nil, "WithTokenSource"},
		} {
			if o.set {
				bad("%s cannot be combined with WithPipeline: give it to NewPipeline", o.name)
			}
		}
		return errors.Join(errs...)
	}
	if c.noOffline {
		if c.spool != nil {
			bad("WithoutOfflineStorage cannot be combined with WithSpool")
		}
		if c.spoolDir != "" {
			bad("WithoutOfflineStorage cannot be combined with WithSpoolDir")
		}
		if c.noSender {
			bad("WithoutOfflineStorage with WithoutSender: nothing would deliver the telemetry")
		}
	}
	c.volatile = c.noOffline || envOff && c.spool == nil && c.spoolDir == "" && !c.noSender
	return errors.Join(errs...)
}

// spoolDirFor is the default spool directory of an exporter of signal ""
// (traces, or a pipeline shared by all signals), "logs" or "metrics".
func spoolDirFor(lookupEnv func(string) (string, bool), signal string) (string, error) {
	dir, err := defaultSpoolDir(lookupEnv)
	if err != nil || signal == "" {
		return dir, err
	}
	return dir + "-" + signal, nil
}
