package ingest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/aispool/aispool/spool"
)

// startGRPC serves o's gRPC services on loopback and returns a client
// connection.
func startGRPC(t *testing.T, o *OTLP, guard *GRPCGuard) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(o.GRPCServerOptions(guard)...)
	o.RegisterGRPC(srv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// retryDelay returns the RetryInfo delay of a status error, 0 without.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// TestOTLPGRPC: the Export services store, report partial success, and
// refuse with UNAVAILABLE (spool) or RESOURCE_EXHAUSTED (memory) with
// RetryInfo, storing nothing of a refused request.
func TestOTLPGRPC(t *testing.T) {
	ctx := context.Background()
	t.Run("stored, partial success", func(t *testing.T) {
		sp := openSpool(t, nil)
		_, o := newOTLP(t, Config{Spool: sp})
		client := ptraceotlp.NewGRPCClient(startGRPC(t, o, nil))
		td := testSpans(6, 0)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2).SetSpanID(pcommon.SpanID{})
		resp, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		if err != nil {
			t.Fatal(err)
		}
		if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || !strings.Contains(ps.ErrorMessage(), "1 of 6 spans") {
			t.Errorf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
		}
		got := drain(t, sp)
		if len(got) != 5 {
			t.Fatalf("spool holds %d records, want 5", len(got))
		}
		checkEnvelopes(t, Traces, got)
		if st := o.Stats(); st.Requests["grpc OK"] != 1 || st.Accepted["traces"] != 5 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("spool full", func(t *testing.T) {
		sp := openSpool(t, nil)
		app := &fakeAppender{next: sp, err: func(int, [][]byte) error { return fmt.Errorf("spool: %w", spool.ErrFull) }}
		_, o := newOTLP(t, Config{Spool: app, RetryAfter: 3 * time.Second})
		client := plogotlp.NewGRPCClient(startGRPC(t, o, nil))
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(3)))
		if status.Code(err) != codes.Unavailable || retryDelay(err) != 3*time.Second || !strings.Contains(err.Error(), "spool: full") {
			t.Fatalf("err %v (retry %v)", err, retryDelay(err))
		}
		if got := drain(t, sp); len(got) != 0 {
			t.Errorf("spool holds %d records", len(got))
		}
	})
	t.Run("memory busy", func(t *testing.T) {
		sp := openSpool(t, nil)
		h, o := newOTLP(t, Config{Spool: sp, MemoryBudget: 1 << 20})
		client := plogotlp.NewGRPCClient(startGRPC(t, o, nil))
		other := h.budget.lease(ctx)
		if err := other.take(1<<20 - 100<<10); err != nil {
			t.Fatal(err)
		}
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(3)))
		if status.Code(err) != codes.ResourceExhausted || retryDelay(err) == 0 {
			t.Fatalf("err %v", err)
		}
		other.release()
		if _, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(3))); err != nil {
			t.Fatalf("after the memory came back: %v", err)
		}
		if got := drain(t, sp); len(got) != 3 {
			t.Errorf("spool holds %d records, want 3", len(got))
		}
		// Every request gave its memory back, refused or not.
		if used := h.budget.inUse(); used != 0 {
			t.Errorf("%d bytes of the budget still in use", used)
		}
	})
	t.Run("too large", func(t *testing.T) {
		sp := openSpool(t, nil)
		_, o := newOTLP(t, Config{Spool: sp, MemoryBudget: 1 << 20})
		client := ptraceotlp.NewGRPCClient(startGRPC(t, o, nil))
		td := testSpans(1, 0)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("big", strings.Repeat("x", 300<<10))
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		if status.Code(err) != codes.ResourceExhausted || retryDelay(err) != 0 {
			t.Fatalf("err %v: want RESOURCE_EXHAUSTED without RetryInfo (gRPC's own message limit)", err)
		}
	})
}

// TestOTLPGRPCGuard: the allow-list, the bearer token and the path
// secret's refusal over gRPC.
func TestOTLPGRPCGuard(t *testing.T) {
	ctx := context.Background()
	const token = "t0ken-0123456789abcdef"
	for _, tc := range []struct {
		name string
		cfg  GuardConfig
		md   []string
		code codes.Code
		says string
	}{
		{"token ok", GuardConfig{BearerToken: token}, []string{"authorization", "Bearer " + token}, codes.OK, ""},
		{"no token", GuardConfig{BearerToken: token}, nil, codes.Unauthenticated, "authentication required"},
		{"wrong token", GuardConfig{BearerToken: token}, []string{"authorization", "Bearer nope"}, codes.Unauthenticated, "not the one"},
		{"path secret only", GuardConfig{PathSecret: "0123456789abcdef"}, nil, codes.Unauthenticated, "cannot be sent over gRPC"},
		{"network refused", GuardConfig{AllowNetworks: mustPrefixes(t, "10.0.0.0/8")}, nil, codes.PermissionDenied, "not in the networks"},
		{"network allowed", GuardConfig{AllowNetworks: mustPrefixes(t, "127.0.0.0/8")}, nil, codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := openSpool(t, nil)
			_, o := newOTLP(t, Config{Spool: sp})
			tc.cfg.Logger = quietLogger()
			guard := NewGRPCGuard(tc.cfg)
			client := ptraceotlp.NewGRPCClient(startGRPC(t, o, guard))
			cctx := ctx
			if tc.md != nil {
				cctx = metadata.AppendToOutgoingContext(ctx, tc.md...)
			}
			_, err := client.Export(cctx, ptraceotlp.NewExportRequestFromTraces(testSpans(2, 0)))
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.says) {
				t.Fatalf("err %v, want %v saying %q", err, tc.code, tc.says)
			}
			want := 0
			if tc.code == codes.OK {
				want = 2
			} else if len(guard.Refused()) != 1 {
				t.Errorf("refusals %v", guard.Refused())
			}
			if got := drain(t, sp); len(got) != want {
				t.Errorf("spool holds %d records, want %d", len(got), want)
			}
		})
	}
}

func mustPrefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}
