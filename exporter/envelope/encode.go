package envelope

import (
	"strconv"
)

// appendEnvelope encodes it as one compact JSON object (no newline).
// Field limits shrink when c.trim asks for it.
func (c *Converter) appendEnvelope(dst []byte, it *item) []byte {
	sp := it.span
	dst = append(dst, `{"ver":1,"name":"`...)
	dst = append(dst, envelopeNames[it.typ]...)
	dst = append(dst, `","time":"`...)
	dst = c.times.appendTime(dst, it.time)
	dst = append(dst, `","sampleRate":`...)
	if sp.sampleRate == 100 {
		dst = append(dst, "100"...) // nothing sampled out: nearly every span
	} else {
		dst = strconv.AppendFloat(dst, sp.sampleRate, 'f', -1, 64)
	}
	dst = append(dst, c.ikey...)

	dst = append(dst, `,"tags":{`...)
	dst = append(dst, sp.res...)
	if sp.traceID.IsValid() { // always for spans; logs and metrics may have none
		dst = append(dst, `,"ai.operation.id":"`...)
		dst = appendHex(dst, sp.traceID[:])
		dst = append(dst, '"')
	}
	if it.hasParent {
		dst = append(dst, `,"ai.operation.parentId":"`...)
		dst = appendHex(dst, it.parentID[:])
		dst = append(dst, '"')
	}
	c.opName = [2]int{}
	if op := sp.operationName(); !op.empty() {
		dst = append(dst, `,"ai.operation.name":`...)
		start := len(dst)
		dst = c.appendText(dst, op, maxName)
		c.opName = [2]int{start, len(dst)}
	}
	dst = appendOptionalTag(dst, "ai.user.authUserId", sp.authUserID)
	dst = appendOptionalTag(dst, "ai.user.id", sp.userID)
	dst = appendOptionalTag(dst, "ai.session.id", sp.sessionID)
	dst = appendOptionalTag(dst, "ai.location.ip", sp.locationIP)
	dst = appendOptionalTag(dst, "ai.user.userAgent", sp.userAgent)
	if sp.synthetic {
		dst = append(dst, `,"ai.operation.syntheticSource":"True"`...)
	}

	dst = append(dst, `},"data":{"baseType":"`...)
	dst = append(dst, baseTypes[it.typ]...)
	dst = append(dst, `","baseData":{"ver":2`...)
	switch it.typ {
	case typeRequest, typeDependency:
		dst = c.appendOperation(dst, it)
	case typeMessage:
		dst = append(dst, `,"message":`...)
		dst = c.appendMessageText(dst, it)
		dst = appendSeverity(dst, it)
	case typeException:
		dst = append(dst, `,"exceptions":[{"typeName":`...)
		dst = appendQuoted(dst, it.typeName, c.limit(maxTypeName))
		dst = append(dst, `,"message":`...)
		dst = c.appendMessageText(dst, it)
		full := false
		if it.stack != "" {
			dst = append(dst, `,"stack":"`...)
			budget := c.limit(maxStack)
			var cut bool
			dst, cut = appendEscaped(dst, it.stack, &budget)
			dst = append(dst, '"')
			full = !cut
		}
		dst = append(dst, `,"hasFullStack":`...)
		dst = strconv.AppendBool(dst, full)
		dst = append(dst, `}]`...)
		dst = appendSeverity(dst, it)
	case typeEvent:
		dst = append(dst, `,"name":`...)
		dst = c.appendText(dst, &it.name, maxEventName)
	case typeMetric:
		dst = c.appendMetricData(dst, it)
	}
	dst = c.appendProperties(dst, it)
	return append(dst, `}}}`...)
}

// appendOperation encodes the fields of a RequestData or a
// RemoteDependencyData.
func (c *Converter) appendOperation(dst []byte, it *item) []byte {
	dst = append(dst, `,"id":"`...)
	dst = appendHex(dst, it.id[:])
	dst = append(dst, `","name":`...)
	if op := it.span.operationName(); c.opName[1] > 0 && (op == &it.name || it.name.equal(op)) {
		// A request's name is its operation name, encoded a moment ago
		// with the same limit: copy it.
		dst = append(dst, dst[c.opName[0]:c.opName[1]]...)
	} else {
		dst = c.appendText(dst, &it.name, maxName)
	}
	dst = append(dst, `,"duration":"`...)
	dst = appendDuration(dst, it.duration)
	dst = append(dst, `","success":`...)
	dst = strconv.AppendBool(dst, it.success)
	if it.typ == typeRequest {
		dst = append(dst, `,"responseCode":`...)
		dst = c.appendText(dst, &it.code, maxResponseCode)
		dst = c.appendOptionalText(dst, `,"source":`, &it.peer, maxSource)
		return c.appendOptionalText(dst, `,"url":`, &it.url, maxURL)
	}
	dst = append(dst, `,"resultCode":`...)
	dst = c.appendText(dst, &it.code, maxResponseCode)
	dst = c.appendOptionalText(dst, `,"type":`, &it.depType, maxType)
	dst = c.appendOptionalText(dst, `,"target":`, &it.peer, maxTarget)
	return c.appendOptionalText(dst, `,"data":`, &it.url, maxData)
}

// limit applies the trimming cap, if any, to a field limit.
func (c *Converter) limit(n int) int {
	if c.trim.cap > 0 && c.trim.cap < n {
		return c.trim.cap
	}
	return n
}

// appendText appends t as a JSON string of at most limit characters.
func (c *Converter) appendText(dst []byte, t *text, limit int) []byte {
	budget := c.limit(limit)
	dst = append(dst, '"')
	for i := 0; i < t.n && budget > 0; i++ {
		p := &t.p[i]
		if !p.num {
			dst, _ = appendEscaped(dst, p.s, &budget)
			continue
		}
		mark := len(dst)
		dst = strconv.AppendInt(dst, p.n, 10)
		if n := len(dst) - mark; n > budget {
			dst = dst[:mark+budget]
			budget = 0
		} else {
			budget -= n
		}
	}
	return append(dst, '"')
}

// appendOptionalText appends prefix and t unless t is empty.
func (c *Converter) appendOptionalText(dst []byte, prefix string, t *text, limit int) []byte {
	if t.empty() {
		return dst
	}
	dst = append(dst, prefix...)
	return c.appendText(dst, t, limit)
}

// appendOptionalTag appends ,"key":"value" unless value is empty.
func appendOptionalTag(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',')
	return appendTag(dst, key, value)
}
