package envelope

import (
	"slices"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// family is the semantic-convention family a span belongs to.
type family uint8

const (
	famNone family = iota
	famHTTP
	famDB
	famRPC
	famMessaging
)

// family detects the family, HTTP first, then database, RPC, messaging.
func (a *spanAttrs) family() family {
	switch {
	case a.first(keyHTTPMethod, keyHTTPMethodOld) != "":
		return famHTTP
	case a.first(keyDBSystem, keyDBSystemOld) != "":
		return famDB
	case a.str(keyRPCSystem) != "":
		return famRPC
	case a.str(keyMessagingSystem) != "":
		return famMessaging
	}
	return famNone
}

// loadSpan resolves the span's main envelope and the context its events
// share into c.span. sc is s.SpanContext(), which the caller has read (and
// checked) already.
func (c *Converter) loadSpan(s Span, sc *trace.SpanContext) {
	kvs := s.Attributes()
	if cap(c.keep) < len(kvs) {
		c.keep = make([]bool, len(kvs))
	}
	keep := c.keep[:len(kvs)]
	a := &c.attrs
	a.scan(kvs, keep)

	sp := &c.span
	kind := s.SpanKind()
	request := kind == trace.SpanKindServer || kind == trace.SpanKindConsumer
	typ := typeDependency
	if request {
		typ = typeRequest
	}
	it := &sp.item
	it.reset(typ, sp)
	sp.traceID = sc.TraceID()
	sp.sampleRate = sampleRate(a, sc.TraceState())
	sp.res = c.resourceTags(s.Resource())
	sp.authUserID = a.str(keyEnduserID)
	sp.userID = a.str(keyEnduserPseudoID)
	sp.sessionID = a.str(keySessionID)
	sp.userAgent = a.first(keyUserAgent, keyUserAgentOld)
	sp.synthetic = a.str(keySyntheticType) != "" || strings.Contains(sp.userAgent, "AlwaysOn")
	sp.locationIP = a.str(keyMicrosoftClientIP)
	if sp.locationIP == "" && request {
		sp.locationIP = a.first(keyClientAddress, keyHTTPClientIP, keyNetworkPeerAddress, keyNetPeerIP)
	}

	it.time = s.StartTime()
	it.duration = s.EndTime().Sub(it.time)
	if p := s.Parent(); p.SpanID().IsValid() {
		it.parentID, it.hasParent = p.SpanID(), true
	}
	it.id = sc.SpanID()
	it.attrs, it.keep = kvs, keep
	st := s.Status()
	if st.Code == codes.Error {
		it.statusDesc = st.Description
	}
	it.links = s.Links()

	fam := a.family()
	httpCode := a.firstPart(keyHTTPStatus, keyHTTPStatusOld)
	if !httpCode.empty() {
		it.code.addPart(httpCode)
	} else {
		it.code.addPart(a.part(keyRPCGRPCStatus))
	}
	if it.code.empty() {
		it.code.add("0")
	}
	it.success = c.success(st.Code, httpCode, request)

	if request {
		c.fillRequest(it, fam, s.Name())
		sp.opIsName = true // a request is its own operation
	} else {
		c.fillDependency(it, fam, kind, s.Name())
		sp.opIsName = false
		sp.opName.reset()
		sp.opName.add(a.str(keyOperationName))
	}
}

// success applies the success rules: listed non-error codes always
// succeed; an Error or Ok status decides; with an Unset status, an HTTP
// code decides (below 400, or below 500 for requests when configured);
// anything else succeeds.
func (c *Converter) success(status codes.Code, httpCode part, request bool) bool {
	code, isHTTP := httpCode.intValue()
	if isHTTP && slices.Contains(c.cfg.NonErrorStatusCodes, int(code)) {
		return true
	}
	switch status {
	case codes.Error:
		return false
	case codes.Ok:
		return true
	}
	if !isHTTP {
		return true
	}
	limit := int64(400)
	if request && c.cfg.ServerClientErrorsAreSuccess {
		limit = 500
	}
	return code > 0 && code < limit
}

func (c *Converter) fillRequest(it *item, fam family, spanName string) {
	a := &c.attrs
	switch fam {
	case famHTTP:
		a.requestName(&it.name, spanName)
		a.requestURL(&it.url)
		it.peer.add(a.first(keyClientAddress, keyHTTPClientIP, keyNetworkPeerAddress, keyNetPeerIP))
	case famMessaging:
		it.name.add(spanName)
		a.messagingPeer(&it.peer, false)
	default:
		it.name.add(spanName)
		if host := a.first(keyClientAddress, keyNetPeerName, keyNetworkPeerAddress, keyNetPeerIP); host != "" {
			it.peer.add(host)
			addPort(&it.peer, a.firstPart(keyClientPort, keyNetPeerPort, keyNetworkPeerPort), 0)
		}
	}
}

func (c *Converter) fillDependency(it *item, fam family, kind trace.SpanKind, spanName string) {
	a := &c.attrs
	it.name.add(spanName)
	switch fam {
	case famHTTP:
		it.depType.add("Http")
		a.dependencyURL(&it.url)
		a.dependencyName(&it.name, spanName)
		a.httpTarget(&it.peer)
	case famDB:
		system := a.first(keyDBSystem, keyDBSystemOld)
		it.depType.add(dbType(system))
		it.url.add(a.first(keyDBQuery, keyDBStatementOld, keyDBOperation, keyDBOperationOld))
		a.dbTarget(&it.peer, system)
	case famRPC:
		system := a.str(keyRPCSystem)
		if system == "grpc" {
			it.depType.add("GRPC")
		} else {
			it.depType.add(system)
		}
		it.url.add(spanName)
		if !a.remoteHost(&it.peer, 0) {
			it.peer.add(system)
		}
	case famMessaging:
		system := a.first(keyAzNamespace, keyMessagingSystem)
		if kind == trace.SpanKindProducer {
			it.depType.add("Queue Message | ")
		}
		it.depType.add(system)
		a.messagingPeer(&it.peer, true)
		a.messagingData(&it.url)
	default:
		ns := a.str(keyAzNamespace)
		switch kind {
		case trace.SpanKindProducer:
			it.depType.add("Queue Message")
		case trace.SpanKindClient:
			if ns == "" {
				it.depType.add("N/A")
			}
		default:
			it.depType.add("InProc")
		}
		if ns != "" {
			if !it.depType.empty() {
				it.depType.add(" | ")
			}
			it.depType.add(ns)
		}
		if kind == trace.SpanKindProducer || kind == trace.SpanKindClient {
			if ns != "" {
				a.messagingPeer(&it.peer, true)
			} else {
				a.remoteHost(&it.peer, 0)
			}
		}
	}
	if it.name.empty() {
		it.name.add("n/a")
	}
}

// remoteHost writes peer.service, else the server's host[:port] (a port
// equal to defaultPort is left out). It reports whether it wrote anything.
func (a *spanAttrs) remoteHost(t *text, defaultPort int64) bool {
	if s := a.str(keyPeerService); s != "" {
		t.add(s)
		return true
	}
	host := a.first(keyServerAddress, keyNetPeerName, keyNetworkPeerAddress, keyNetPeerIP)
	if host == "" {
		return false
	}
	t.add(host)
	addPort(t, a.firstPart(keyServerPort, keyNetPeerPort, keyNetworkPeerPort), defaultPort)
	return true
}

// addPort appends ":port" unless the port is empty, 0 or defaultPort.
func addPort(t *text, port part, defaultPort int64) {
	n, ok := port.intValue()
	if port.empty() || (ok && (n == 0 || n == defaultPort)) {
		return
	}
	t.add(":")
	t.addPart(port)
}

// dbTarget writes "server[:port]|namespace", the namespace alone, or the
// system, leaving out the system's default port.
func (a *spanAttrs) dbTarget(t *text, system string) {
	ns := a.first(keyDBNamespace, keyDBNameOld)
	if a.remoteHost(t, dbDefaultPort(system)) {
		if ns != "" {
			t.add("|")
			t.add(ns)
		}
		return
	}
	if ns != "" {
		t.add(ns)
		return
	}
	t.add(system)
}

// messagingPeer writes "{peer}/{destination}" (or whichever half exists);
// the peer is peer.service (only when usePeerService) or the broker's
// host[:port].
func (a *spanAttrs) messagingPeer(t *text, usePeerService bool) {
	dest := a.first(keyMessagingDest, keyMessagingDestOld)
	wrote := false
	if usePeerService {
		wrote = a.remoteHost(t, 0)
	} else if host := a.first(keyServerAddress, keyNetPeerName, keyNetworkPeerAddress, keyNetPeerIP); host != "" {
		t.add(host)
		addPort(t, a.firstPart(keyServerPort, keyNetPeerPort, keyNetworkPeerPort), 0)
		wrote = true
	}
	if dest != "" {
		if wrote {
			t.add("/")
		}
		t.add(dest)
	}
}

// messagingData writes "{protocol}://{host[:port]}/{destination}" when the
// protocol and host are known.
func (a *spanAttrs) messagingData(t *text) {
	proto := a.str(keyNetworkProtocolName)
	host := a.first(keyServerAddress, keyNetPeerName, keyNetworkPeerAddress, keyNetPeerIP)
	if proto == "" || host == "" {
		return
	}
	t.add(proto)
	t.add("://")
	t.add(host)
	addPort(t, a.firstPart(keyServerPort, keyNetPeerPort, keyNetworkPeerPort), 0)
	if dest := a.first(keyMessagingDest, keyMessagingDestOld); dest != "" {
		t.add("/")
		t.add(dest)
	}
}

// dbType maps a database system to the dependency type: "SQL" for the SQL
// family, the system itself otherwise.
func dbType(system string) string {
	switch system {
	case "mssql", "microsoft.sql_server", "db2", "ibm.db2", "derby", "mariadb",
		"oracle", "oracle.db", "sqlite", "other_sql", "hsqldb", "h2":
		return "SQL"
	}
	return system
}

// dbDefaultPort is the default port of a database system, left out of the
// dependency target.
func dbDefaultPort(system string) int64 {
	switch system {
	case "postgresql":
		return 5432
	case "cassandra":
		return 9042
	case "mysql", "mariadb":
		return 3306
	case "mssql", "microsoft.sql_server":
		return 1433
	case "memcached":
		return 11211
	case "db2", "ibm.db2":
		return 50000
	case "oracle", "oracle.db":
		return 1521
	case "h2":
		return 8082
	case "derby":
		return 1527
	case "redis":
		return 6379
	}
	return 0
}
