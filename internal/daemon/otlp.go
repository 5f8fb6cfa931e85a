package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/aispool/aispool/exporter/envelope"
	"github.com/aispool/aispool/ingest"
	"github.com/aispool/aispool/internal/connstring"
)

// Default addresses of the OTLP intake: OTLP's own ports, on loopback, so
// that every OpenTelemetry SDK works with no configuration.
const (
	DefaultOTLPHTTPListen = "127.0.0.1:4318"
	DefaultOTLPGRPCListen = "127.0.0.1:4317"
)

// otlpServers are the OTLP intake's servers; nil where off.
type otlpServers struct {
	intake *ingest.OTLP
	http   *http.Server
	httpLn net.Listener
	grpc   *grpc.Server
	grpcLn net.Listener
	guard  *ingest.GRPCGuard
}

// startOTLP builds the OTLP intake and binds its listeners. At its default
// address, a listener whose port is taken (a local OpenTelemetry
// Collector) is logged and left off; at any other address it is an error.
func (d *Daemon) startOTLP() error {
	cfg := d.cfg
	if cfg.OTLPHTTPListen == "" && cfg.OTLPGRPCListen == "" {
		return nil
	}
	cs, err := connstring.Resolve(cfg.ConnectionString, cfg.LookupEnv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	version := cfg.Version
	if version == "" {
		version = "dev"
	}
	o, err := d.ingest.OTLP(ingest.OTLPConfig{Envelope: envelope.Config{InstrumentationKey: cs.InstrumentationKey, Version: version}})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	d.otlp.intake = o
	gc, err := cfg.guardConfig()
	if err != nil {
		return err
	}
	if cfg.OTLPHTTPListen != "" {
		ln, err := d.listenOTLP("--otlp-http-listen", cfg.OTLPHTTPListen, DefaultOTLPHTTPListen)
		if err != nil {
			return err
		}
		if ln != nil {
			d.otlp.http = ingest.NewServer(o, cfg.Logger)
			hgc := gc
			hgc.Refusal, hgc.PathHint = ingest.OTLPRefusal, ingest.OTLPPathHint
			if err := d.secure(d.otlp.http, hgc); err != nil {
				_ = ln.Close()
				return err
			}
			d.otlp.httpLn = ingest.LimitListener(ln, cfg.MaxConnections, cfg.Logger)
		}
	}
	if cfg.OTLPGRPCListen != "" {
		ln, err := d.listenOTLP("--otlp-grpc-listen", cfg.OTLPGRPCListen, DefaultOTLPGRPCListen)
		if err != nil {
			return err
		}
		if ln != nil {
			d.otlp.guard = ingest.NewGRPCGuard(gc)
			opts := o.GRPCServerOptions(d.otlp.guard)
			tlsCfg, err := cfg.serverTLS()
			if err != nil {
				_ = ln.Close()
				return err
			}
			if tlsCfg != nil {
				cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
				if err != nil {
					_ = ln.Close()
					return fmt.Errorf("%w: --tls-cert/--tls-key: %w", ErrInvalidConfig, err)
				}
				tlsCfg.Certificates = []tls.Certificate{cert}
				opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
			}
			d.otlp.grpc = grpc.NewServer(opts...)
			o.RegisterGRPC(d.otlp.grpc)
			d.otlp.grpcLn = ingest.LimitListener(ln, cfg.MaxConnections, cfg.Logger)
			if gc.PathSecret != "" && gc.BearerToken == "" && !gc.ClientCerts {
				d.log.Warn("ingest: --otlp-grpc-listen: the secret path prefix cannot be sent over gRPC, and is the only " +
					"authentication set: every OTLP/gRPC call will be refused; clients should use OTLP/HTTP, or set " +
					"--bearer-token-file or --tls-client-ca, or --otlp-grpc-listen= to turn gRPC off")
			}
		}
	}
	return nil
}

// listenOTLP binds addr. At the default address, a port in use is logged
// and nil returned: the listener stays off.
func (d *Daemon) listenOTLP(flag, addr, def string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if addr == def && errors.Is(err, syscall.EADDRINUSE) {
		d.log.Warn("ingest: "+flag+" is off: its default address is in use, probably by a local OpenTelemetry Collector "+
			"(set "+flag+" to another address, or to empty to turn it off and silence this line)", "addr", addr)
		return nil, nil
	}
	return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
}

// serveGRPC serves the OTLP/gRPC intake, if on, reporting a failure on
// errc.
func (d *Daemon) serveGRPC(errc chan<- error) {
	if d.otlp.grpc == nil {
		return
	}
	go func() {
		if err := d.otlp.grpc.Serve(d.otlp.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errc <- fmt.Errorf("OTLP/gRPC intake: %w", err)
		}
	}()
}

// stopOTLP stops the OTLP intake's servers: they stop accepting, and
// requests in flight finish while ctx allows.
func (d *Daemon) stopOTLP(ctx context.Context) {
	if d.otlp.http != nil {
		_ = d.otlp.http.Shutdown(ctx)
	}
	if d.otlp.grpc != nil {
		done := make(chan struct{})
		go func() {
			d.otlp.grpc.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			d.otlp.grpc.Stop()
			<-done
		}
	}
}

// OTLP returns the OTLP intake (nil if both of its listeners are off).
func (d *Daemon) OTLP() *ingest.OTLP { return d.otlp.intake }

// OTLPHTTPURL is the OTLP/HTTP intake's base URL, what
// OTEL_EXPORTER_OTLP_ENDPOINT gets ("" if off), without the secret path
// prefix.
func (d *Daemon) OTLPHTTPURL() string {
	if d.otlp.httpLn == nil {
		return ""
	}
	scheme := "http"
	if d.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + d.otlp.httpLn.Addr().String()
}

// OTLPGRPCAddr is the OTLP/gRPC intake's address ("" if off).
func (d *Daemon) OTLPGRPCAddr() string {
	if d.otlp.grpcLn == nil {
		return ""
	}
	return d.otlp.grpcLn.Addr().String()
}
