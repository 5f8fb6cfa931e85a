package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/aispool/aispool/internal/otlpconv"
)

// Limits of the OTLP/gRPC intake.
const (
	// MaxGRPCMessageBytes bounds one gRPC message, gRPC's default: the
	// Go SDK's and the Collector's exporters send below it. The intake's
	// memory budget may lower it (a quarter of the budget at most).
	MaxGRPCMessageBytes = 4 << 20
	// MaxGRPCStreams bounds the requests in flight on one connection.
	MaxGRPCStreams = 16
)

// GRPCServerOptions returns the options of a gRPC server for the intake:
// the message size limit, the memory budget taken before a message is
// read (a request that cannot get it at once is refused with
// RESOURCE_EXHAUSTED and RetryInfo), at most MaxGRPCStreams requests per
// connection, ReadHeaderTimeout for the connection's handshake,
// IdleTimeout for an idle connection; and, when guard is not nil, its
// checks (see [GRPCGuard]).
func (o *OTLP) GRPCServerOptions(guard *GRPCGuard) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(o.maxGRPCMessage())),
		grpc.MaxConcurrentStreams(MaxGRPCStreams),
		grpc.ConnectionTimeout(ReadHeaderTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: IdleTimeout}),
		grpc.InTapHandle(o.tap),
	}
	if guard != nil {
		opts = append(opts, grpc.ChainUnaryInterceptor(guard.intercept))
	}
	return opts
}

// maxGRPCMessage is the message size limit: MaxGRPCMessageBytes, or a
// quarter of the memory budget if that is less.
func (o *OTLP) maxGRPCMessage() int64 {
	return min(MaxGRPCMessageBytes, o.h.budget.limit/4)
}

// RegisterGRPC registers the three OTLP Export services on s.
func (o *OTLP) RegisterGRPC(s *grpc.Server) {
	ptraceotlp.RegisterGRPCServer(s, &traceService{o: o})
	plogotlp.RegisterGRPCServer(s, &logService{o: o})
	pmetricotlp.RegisterGRPCServer(s, &metricService{o: o})
}

// grpcLease is the memory of one gRPC request, taken by the tap before
// its message is read and given back when the call ends.
type grpcLease struct {
	mu sync.Mutex
	l  *lease
}

type grpcLeaseKey struct{}

// release gives the request's memory back (once).
func (g *grpcLease) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.l != nil {
		g.l.release()
		g.l = nil
	}
}

// otlpMethods are the full names of the OTLP Export methods.
var otlpMethods = map[string]bool{
	"/opentelemetry.proto.collector.trace.v1.TraceService/Export":     true,
	"/opentelemetry.proto.collector.logs.v1.LogsService/Export":       true,
	"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": true,
}

// tap takes the memory of a message of the largest size before it is
// read, without waiting: a request that cannot have it is refused with
// RESOURCE_EXHAUSTED and RetryInfo, and the client sends it again later.
// The memory is given back when the stream ends, whatever happened to it
// (its context is cancelled then).
func (o *OTLP) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if !otlpMethods[info.FullMethodName] {
		return ctx, nil // answered UNIMPLEMENTED without reading anything
	}
	n := o.maxGRPCMessage()
	if _, err := o.h.budget.take(ctx, n, false, 0); err != nil {
		o.countRequest("grpc " + codes.ResourceExhausted.String())
		return ctx, o.retryable(codes.ResourceExhausted, o.refusalReason(errMemoryBusy))
	}
	l := o.h.budget.lease(context.Background())
	l.held = n
	g := &grpcLease{l: l}
	context.AfterFunc(ctx, g.release)
	return context.WithValue(ctx, grpcLeaseKey{}, g), nil
}

// retryable returns a status error with RetryInfo: OTLP clients retry
// UNAVAILABLE, and RESOURCE_EXHAUSTED only with RetryInfo.
func (o *OTLP) retryable(code codes.Code, msg string) error {
	st, err := status.New(code, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(o.h.retryAfterDuration)})
	if err != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}

// exportGRPC converts and stores a request the gRPC server decoded; size
// is its encoded size.
func (o *OTLP) exportGRPC(ctx context.Context, req otlpRequest, size int) (otlpconv.Result, error) {
	start := time.Now()
	g, _ := ctx.Value(grpcLeaseKey{}).(*grpcLease)
	if g == nil { // served without the tap: take the memory now
		g = &grpcLease{l: o.h.budget.lease(ctx)}
		defer g.release()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	mem := g.l
	if mem == nil {
		return otlpconv.Result{}, status.Error(codes.Internal, "the request's memory was already given back")
	}
	// As OTLP/HTTP: once the request is decoded, it is carried out within
	// AppendTimeout even if the client goes away meanwhile.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.h.appendTimeout)
	defer cancel()
	mem.ctx = actx
	// The message is decoded: what the tap took for it becomes the
	// decoded objects' share.
	if need := int64(size) * protoDecodeFactor; need > mem.held {
		if err := mem.take(need - mem.held); err != nil {
			return o.grpcRefusal(ctx, req.signal, otlpconv.Result{}, err, start)
		}
	} else {
		mem.give(mem.held - need)
	}
	res, err := o.export(actx, mem, req)
	o.count(req.signal, res, err)
	if err != nil {
		return o.grpcRefusal(ctx, req.signal, res, err, start)
	}
	o.countRequest("grpc " + codes.OK.String())
	o.logRequest(ctx, "grpc", req.signal, codes.OK.String(), res, int64(size), start, res.Message)
	return res, nil
}

// grpcRefusal maps a refusal of the whole request to its status: a request
// too large for the budget is INVALID_ARGUMENT (not retryable: the client
// must send smaller batches); while memory or slots are held by others,
// RESOURCE_EXHAUSTED with RetryInfo; when the spool refuses, UNAVAILABLE
// with RetryInfo.
func (o *OTLP) grpcRefusal(ctx context.Context, sig Signal, res otlpconv.Result, err error, start time.Time) (otlpconv.Result, error) {
	reason := o.refusalReason(err)
	var serr error
	var code codes.Code
	switch {
	case errors.Is(err, errMemoryTooBig):
		code = codes.InvalidArgument
		serr = status.Error(code, reason)
	case errors.Is(err, errMemoryBusy), errors.Is(err, errSlotsBusy):
		code = codes.ResourceExhausted
		serr = o.retryable(code, reason)
	default:
		code = codes.Unavailable
		serr = o.retryable(code, reason)
	}
	o.countRequest("grpc " + code.String())
	o.logRequest(ctx, "grpc", sig, code.String(), res, 0, start, reason)
	return res, serr
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	o *OTLP
}

func (s *traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	size := (&ptrace.ProtoMarshaler{}).TracesSize(req.Traces())
	res, err := s.o.exportGRPC(ctx, otlpRequest{signal: Traces, traces: req}, size)
	if err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	return ptraceotlpResponse(int64(res.Rejected), res.Message), nil
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
	o *OTLP
}

func (s *logService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	size := (&plog.ProtoMarshaler{}).LogsSize(req.Logs())
	res, err := s.o.exportGRPC(ctx, otlpRequest{signal: Logs, logs: req}, size)
	if err != nil {
		return plogotlp.NewExportResponse(), err
	}
	return plogotlpResponse(int64(res.Rejected), res.Message), nil
}

type metricService struct {
	pmetricotlp.UnimplementedGRPCServer
	o *OTLP
}

func (s *metricService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	size := (&pmetric.ProtoMarshaler{}).MetricsSize(req.Metrics())
	res, err := s.o.exportGRPC(ctx, otlpRequest{signal: Metrics, metrics: req}, size)
	if err != nil {
		return pmetricotlp.NewExportResponse(), err
	}
	return pmetricotlpResponse(int64(res.Rejected), res.Message), nil
}

// GRPCGuard applies a GuardConfig to gRPC calls: the client network
// allow-list (PERMISSION_DENIED), a bearer token in the "authorization"
// metadata (OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer <token>") or
// a verified client certificate (UNAUTHENTICATED without one). A secret
// path prefix cannot travel over gRPC, whose paths are the services'
// names: when it is the only method, every call is refused saying so.
type GRPCGuard struct {
	g *Guard
}

// NewGRPCGuard returns the gRPC guard of cfg, or nil if cfg sets no method
// and no network.
func NewGRPCGuard(cfg GuardConfig) *GRPCGuard {
	g := newGuard(nil, cfg)
	if len(g.methods) == 0 && len(g.allow) == 0 {
		return nil
	}
	return &GRPCGuard{g: g}
}

// Refused returns how many calls were refused, by reason (as
// [Guard.Refused]).
func (gg *GRPCGuard) Refused() map[string]uint64 { return gg.g.Refused() }

func (gg *GRPCGuard) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	g := gg.g
	var addr netip.Addr
	remote := ""
	p, ok := peer.FromContext(ctx)
	if ok && p.Addr != nil {
		remote = p.Addr.String()
		if tcp, isTCP := p.Addr.(*net.TCPAddr); isTCP {
			addr, _ = netip.AddrFromSlice(tcp.IP)
			addr = addr.Unmap()
		}
	}
	refuse := func(code codes.Code, reason, msg string) (any, error) {
		g.noteRefusal(ctx, addr.String(), remote, code.String(), reason)
		return nil, status.Error(code, msg)
	}
	if len(g.allow) > 0 && (!addr.IsValid() || !g.allowed(addr)) {
		return refuse(codes.PermissionDenied, RefusedNetwork,
			fmt.Sprintf("client address %s is not in the networks allowed to post here (--allow-network)", addr))
	}
	if len(g.methods) == 0 {
		return handler(ctx, req)
	}
	if g.clientCerts && ok {
		if ti, isTLS := p.AuthInfo.(credentials.TLSInfo); isTLS && len(ti.State.VerifiedChains) > 0 {
			return handler(ctx, req)
		}
	}
	if g.token != nil {
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get("authorization") {
			scheme, tok, found := strings.Cut(v, " ")
			if !found || !strings.EqualFold(scheme, "Bearer") {
				continue
			}
			if equal(strings.TrimSpace(tok), g.token) {
				return handler(ctx, req)
			}
			return refuse(codes.Unauthenticated, RefusedToken, "the bearer token is not the one this endpoint accepts")
		}
	}
	if len(g.methods) == 1 && g.pathSecret != nil {
		return refuse(codes.Unauthenticated, RefusedPath,
			"the secret path prefix cannot be sent over gRPC: use OTLP/HTTP (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf), "+
				"or authenticate gRPC with a bearer token (--bearer-token-file) or client certificates (--tls-client-ca)")
	}
	var alts []string
	if g.token != nil {
		alts = append(alts, `a bearer token (metadata "authorization: Bearer <token>", OTEL_EXPORTER_OTLP_HEADERS)`)
	}
	if g.clientCerts {
		alts = append(alts, "a client certificate from a trusted CA")
	}
	return refuse(codes.Unauthenticated, RefusedAuth, "authentication required: "+strings.Join(alts, ", or "))
}
