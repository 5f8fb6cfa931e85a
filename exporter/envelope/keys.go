package envelope

// attrID names an attribute the mapping reads. The zero value means "not a
// mapped key".
type attrID uint8

const (
	keyNone attrID = iota
	keyHTTPMethod
	keyHTTPMethodOld
	keyHTTPStatus
	keyHTTPStatusOld
	keyURLFull
	keyHTTPURL
	keyURLScheme
	keyHTTPScheme
	keyURLPath
	keyURLQuery
	keyHTTPTarget
	keyHTTPRoute
	keyServerAddress
	keyServerPort
	keyHTTPHost
	keyHTTPServerName
	keyNetHostName
	keyNetHostPort
	keyNetPeerName
	keyNetPeerPort
	keyClientAddress
	keyClientPort
	keyHTTPClientIP
	keyNetworkPeerAddress
	keyNetworkPeerPort
	keyNetPeerIP
	keyUserAgent
	keyUserAgentOld
	keySyntheticType
	keyPeerService
	keyDBSystem
	keyDBSystemOld
	keyDBNamespace
	keyDBNameOld
	keyDBQuery
	keyDBStatementOld
	keyDBOperation
	keyDBOperationOld
	keyMessagingSystem
	keyMessagingDest
	keyMessagingDestOld
	keyNetworkProtocolName
	keyRPCSystem
	keyRPCGRPCStatus
	keyAzNamespace
	keyEnduserID
	keyEnduserPseudoID
	keySessionID
	keyMicrosoftClientIP
	keyMicrosoftSampleRate
	keyMSSampleRate
	keyOperationName
	keyMSLinks
	numAttrIDs
)

// OperationNameKey is the span attribute that carries the name of the local
// root request (the Application Insights "operation name") to child spans.
// The span processor in package exporter sets it when a span starts; the
// converter turns it into the ai.operation.name tag of dependency, exception
// and message envelopes and never copies it into properties. It is the key the
// Python and JavaScript Azure Monitor exporters use for the same purpose.
const OperationNameKey = "ai.operation.name"

// classify maps an attribute key to its id and tells whether the key is
// consumed by the mapping (and therefore not copied into properties).
// Keys that are read but still kept as properties (az.namespace) report
// consumed == false.
func classify(key string) (id attrID, consumed bool) {
	switch key {
	case "http.request.method":
		return keyHTTPMethod, true
	case "http.method":
		return keyHTTPMethodOld, true
	case "http.response.status_code":
		return keyHTTPStatus, true
	case "http.status_code":
		return keyHTTPStatusOld, true
	case "url.full":
		return keyURLFull, true
	case "http.url":
		return keyHTTPURL, true
	case "url.scheme":
		return keyURLScheme, true
	case "http.scheme":
		return keyHTTPScheme, true
	case "url.path":
		return keyURLPath, true
	case "url.query":
		return keyURLQuery, true
	case "http.target":
		return keyHTTPTarget, true
	case "http.route":
		return keyHTTPRoute, true
	case "server.address":
		return keyServerAddress, true
	case "server.port":
		return keyServerPort, true
	case "http.host":
		return keyHTTPHost, true
	case "http.server_name":
		return keyHTTPServerName, true
	case "net.host.name":
		return keyNetHostName, true
	case "net.host.port":
		return keyNetHostPort, true
	case "net.peer.name":
		return keyNetPeerName, true
	case "net.peer.port":
		return keyNetPeerPort, true
	case "client.address":
		return keyClientAddress, true
	case "client.port":
		return keyClientPort, true
	case "http.client_ip":
		return keyHTTPClientIP, true
	case "network.peer.address":
		return keyNetworkPeerAddress, true
	case "network.peer.port":
		return keyNetworkPeerPort, true
	case "net.peer.ip":
		return keyNetPeerIP, true
	case "user_agent.original":
		return keyUserAgent, true
	case "http.user_agent":
		return keyUserAgentOld, true
	case "user_agent.synthetic.type":
		return keySyntheticType, true
	case "peer.service":
		return keyPeerService, true
	case "db.system.name":
		return keyDBSystem, true
	case "db.system":
		return keyDBSystemOld, true
	case "db.namespace":
		return keyDBNamespace, true
	case "db.name":
		return keyDBNameOld, true
	case "db.query.text":
		return keyDBQuery, true
	case "db.statement":
		return keyDBStatementOld, true
	case "db.operation.name":
		return keyDBOperation, true
	case "db.operation":
		return keyDBOperationOld, true
	case "messaging.system":
		return keyMessagingSystem, true
	case "messaging.destination.name":
		return keyMessagingDest, true
	case "messaging.destination":
		return keyMessagingDestOld, true
	case "network.protocol.name":
		return keyNetworkProtocolName, true
	case "rpc.system":
		return keyRPCSystem, true
	case "rpc.grpc.status_code":
		return keyRPCGRPCStatus, true
	case "az.namespace":
		return keyAzNamespace, false
	case "enduser.id":
		return keyEnduserID, true
	case "enduser.pseudo.id":
		return keyEnduserPseudoID, true
	case "session.id":
		return keySessionID, true
	case "microsoft.client.ip":
		return keyMicrosoftClientIP, true
	case "microsoft.sample_rate":
		return keyMicrosoftSampleRate, true
	case "_MS.sampleRate":
		return keyMSSampleRate, true
	case OperationNameKey:
		return keyOperationName, true
	case msLinksKey:
		return keyMSLinks, false
	}
	return keyNone, isControlKey(key)
}

// isControlKey reports keys that steer exporters rather than describe the
// operation: microsoft.* and _MS.* (except the two _MS keys the backend
// reads as properties). They never become properties.
func isControlKey(key string) bool {
	if len(key) >= 10 && key[:10] == "microsoft." {
		return true
	}
	if len(key) >= 4 && key[:4] == "_MS." {
		return key != "_MS.ProcessedByMetricExtractors" && key != msLinksKey
	}
	return false
}

// Property keys the converter itself writes.
const (
	msLinksKey           = "_MS.links"
	statusDescriptionKey = "otel.status_description"
)
