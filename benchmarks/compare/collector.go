package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/azuremonitorexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/extension"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The Collector exporter's queue settings.
const (
	queueFile   = "file"   // sending_queue with storage: file_storage (fsync on)
	queueMemory = "memory" // the factory's default: an in-memory sending_queue
	queueNone   = "none"   // sending_queue disabled: ConsumeTraces runs the export itself
)

// collectorExporter hands the SDK's batches to the Collector's
// azuremonitorexporter, built through its factory as a Collector would
// build it from this configuration:
//
//	exporters:
//	  azuremonitor:
//	    connection_string: InstrumentationKey=…;IngestionEndpoint=<loopback endpoint>
//	    sending_queue:
//	      storage: file_storage        # queueFile only
//	extensions:
//	  file_storage:
//	    directory: <dir>
//	    fsync: true
//
// Each batch is converted to pdata (toTraces) and passed to ConsumeTraces,
// which is what the Collector's pipeline does after its OTLP receiver has
// decoded a request: the OTLP encoding, the loopback hop and the decoding
// of a real deployment (application → Collector) are not paid here, nor
// the Collector's own telemetry (no-op settings). The figures are thus a
// lower bound of a real Collector's cost.
type collectorExporter struct {
	exp exporter.Traces
	ext extension.Extension // file_storage, or nil
}

// collectorHost is the component.Host of the exporter: it offers the
// file_storage extension to the persistent queue.
type collectorHost struct {
	ext map[component.ID]component.Component
}

func (h *collectorHost) GetExtensions() map[component.ID]component.Component { return h.ext }

// buildCollector builds and starts the exporter (and, with queueFile, the
// file_storage extension on env.dir, fsync on).
func buildCollector(ctx context.Context, env pipelineEnv, queue string) (*pipeline, error) {
	tel := componenttest.NewNopTelemetrySettings()
	host := &collectorHost{ext: map[component.ID]component.Component{}}
	f := azuremonitorexporter.NewFactory()
	cfg, ok := f.CreateDefaultConfig().(*azuremonitorexporter.Config)
	if !ok {
		return nil, errors.New("azuremonitorexporter: unexpected default config type")
	}
	cfg.ConnectionString = configopaque.String(connString(env.endpoint))
	c := &collectorExporter{}
	switch queue {
	case queueFile:
		ff := filestorage.NewFactory()
		fcfg, ok := ff.CreateDefaultConfig().(*filestorage.Config)
		if !ok {
			return nil, errors.New("filestorage: unexpected default config type")
		}
		fcfg.Directory = env.dir
		fcfg.Compaction.Directory = env.dir
		fcfg.FSync = true
		if err := fcfg.Validate(); err != nil {
			return nil, fmt.Errorf("file_storage config: %w", err)
		}
		id := component.NewID(ff.Type())
		ext, err := ff.Create(ctx, extension.Settings{ID: id, TelemetrySettings: tel, BuildInfo: component.NewDefaultBuildInfo()}, fcfg)
		if err != nil {
			return nil, fmt.Errorf("file_storage: %w", err)
		}
		if err := ext.Start(ctx, host); err != nil {
			return nil, fmt.Errorf("file_storage start: %w", err)
		}
		host.ext[id] = ext
		c.ext = ext
		cfg.QueueSettings.GetOrInsertDefault().StorageID = &id
	case queueMemory:
	case queueNone:
		cfg.QueueSettings = configoptional.None[exporterhelper.QueueBatchConfig]()
	default:
		return nil, fmt.Errorf("unknown queue %q", queue)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("azuremonitorexporter config: %w", err)
	}
	if cfg.QueueSettings.HasValue() {
		if err := cfg.QueueSettings.Get().Validate(); err != nil {
			return nil, fmt.Errorf("azuremonitorexporter sending_queue: %w", err)
		}
	}
	exp, err := f.CreateTraces(ctx, exporter.Settings{ID: component.NewID(f.Type()), TelemetrySettings: tel, BuildInfo: component.NewDefaultBuildInfo()}, cfg)
	if err != nil {
		return nil, fmt.Errorf("azuremonitorexporter: %w", err)
	}
	if err := exp.Start(ctx, host); err != nil {
		return nil, fmt.Errorf("azuremonitorexporter start: %w", err)
	}
	c.exp = exp
	return &pipeline{exp: c}, nil
}

// ExportSpans converts the batch and hands it to the exporter.
func (c *collectorExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	return c.exp.ConsumeTraces(ctx, toTraces(spans))
}

// Shutdown shuts the exporter down (its queue drains into the exporter),
// then the extension.
func (c *collectorExporter) Shutdown(ctx context.Context) error {
	err := c.exp.Shutdown(ctx)
	if c.ext != nil {
		err = errors.Join(err, c.ext.Shutdown(ctx))
	}
	return err
}
