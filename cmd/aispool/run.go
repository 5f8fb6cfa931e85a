package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/internal/daemon"
)

func newRunCommand(g *globals) *cobra.Command {
	var f daemonFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: drain the spool, accept telemetry locally, expose metrics",
		Long: `run drains the spool directory (sealed segments of any process, and those of dead processes) to
Application Insights, serves a local ingestion endpoint with the service's own API (point an SDK's
IngestionEndpoint at it to give it offline storage and retry), and serves /metrics, /healthz and
/readyz on the admin address.

Both listen on loopback by default. Before listening on another address, read docs/security.md:
serve TLS (--tls-cert, --tls-key) and require a secret path prefix (--path-secret-file), a bearer
token (--bearer-token-file) or client certificates (--tls-client-ca), and narrow the clients with
--allow-network; run warns at start when TLS or authentication is missing.

On SIGTERM or SIGINT it stops accepting, lets requests in flight finish within --shutdown-timeout,
leaves the rest in the spool and exits 0; a second signal exits at once. Exit code 78 for a
configuration error (such as a missing or bad connection string).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(g)
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			limit, source := daemon.ApplyMemoryLimit(cfg, g.lookupEnv)
			cfg.Logger.Info("memory limits", "go_memory_limit", limit, "source", source,
				"intake_memory", cfg.IntakeBudget())
			ctx, stop := signalContext(cmd.Context(), cfg.Logger)
			defer stop()
			d, err := daemon.New(ctx, cfg)
			if err != nil {
				return err
			}
			return d.Run(ctx)
		},
	}
	f.register(cmd.Flags(), true)
	return withConfig(g, cmd)
}

// signalContext is cancelled by the first SIGTERM or SIGINT; a second one
// exits the process at once. Both are logged through log, so that a JSON
// log stays JSON.
func signalContext(parent context.Context, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		select {
		case s, ok := <-sig:
			if !ok {
				return
			}
			log.Info("signal received: shutting down (send it again to exit at once)", "signal", s.String())
			cancel()
		case <-ctx.Done():
			return
		}
		if s, ok := <-sig; ok {
			log.Warn("second signal received: exiting now; what was not delivered stays in the spool", "signal", s.String())
			os.Exit(exitFailed)
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(sig)
		cancel()
	}
}
