package envelope

// Schema length limits, in characters (UTF-16 code units), that the
// ingestion service applies to envelopes (docs/protocol.md, Envelopes).
const (
	maxEnvelopeName    = 1024
	maxTime            = 64
	maxIKey            = 40
	maxID              = 512
	maxName            = 1024
	maxResponseCode    = 1024
	maxSource          = 1024
	maxURL             = 2048
	maxData            = 8192
	maxType            = 1024
	maxTarget          = 1024
	maxMessage         = 32768
	maxTypeName        = 1024
	maxStack           = 32768
	maxProblemID       = 1024
	maxEventName       = 512
	maxPropertyKey     = 150
	maxPropertyValue   = 8192
	maxLinks           = 100
	maxTagDefault      = 1024
	maxTagOperationID  = 128
	maxTagParentID     = 128
	maxTagUserID       = 128
	maxTagSessionID    = 64
	maxTagLocationIP   = 46
	maxTagCloudRole    = 256
	maxTagRoleInstance = 256
	maxTagSDKVersion   = 64
	// maxTagSessionIsFirst is the limit of tagSessionIsFirst ("true" or
	// "false"), the only tag whose limit is below minTagLimit.
	maxTagSessionIsFirst = 5
	// minTagLimit is no more than the limit of every tag but
	// tagSessionIsFirst (tagLimit): the fast validation looks no limit up
	// for a shorter value. Keep it so when adding a tag to tagLimit.
	minTagLimit = maxTagLocationIP
)

const tagSessionIsFirst = "ai.session.isFirst"

// MaxEnvelopeBytes is the largest encoded envelope (without its trailing
// newline) the converter emits. The service refuses items over 64 KB; the
// converter keeps a margin below 64 KiB so that either reading of "KB"
// holds. Larger envelopes are trimmed, largest properties first.
const MaxEnvelopeBytes = 64000

// tagLimit returns the length limit of a context tag.
func tagLimit(key string) int {
	switch key {
	case "ai.operation.id":
		return maxTagOperationID
	case "ai.operation.parentId":
		return maxTagParentID
	case "ai.user.id":
		return maxTagUserID
	case "ai.session.id":
		return maxTagSessionID
	case "ai.location.ip":
		return maxTagLocationIP
	case "ai.cloud.role":
		return maxTagCloudRole
	case "ai.cloud.roleInstance":
		return maxTagRoleInstance
	case "ai.internal.sdkVersion", "ai.internal.agentVersion", "ai.operation.correlationVector", "ai.device.locale", "ai.device.type":
		return maxTagSDKVersion
	case tagSessionIsFirst:
		return maxTagSessionIsFirst
	case "ai.device.model", "ai.device.oemName", "ai.device.osVersion", "ai.internal.nodeName":
		return 256
	}
	return maxTagDefault
}
