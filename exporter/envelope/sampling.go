package envelope

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// sampleRate returns the envelope's sampleRate: 100 × the probability with
// which the span was sampled, so that the backend counts the item as
// 100/sampleRate items. It comes, in order, from:
//
//  1. the span attribute microsoft.sample_rate (a percentage, as the
//     JavaScript and .NET exporters write it),
//  2. the span attribute _MS.sampleRate (a percentage, as the Python
//     exporter writes it),
//  3. the OpenTelemetry sampling threshold in the tracestate (ot=th:…),
//     which consistent-probability samplers record: probability =
//     1 − threshold/2^56;
//
// and is 100 otherwise. A percentage outside (0, 100] is ignored.
func sampleRate(a *spanAttrs, ts trace.TraceState) float64 {
	for _, id := range [...]attrID{keyMicrosoftSampleRate, keyMSSampleRate} {
		if v, ok := a.number(id); ok && v > 0 && v <= 100 {
			return v
		}
	}
	if p, ok := thresholdProbability(ts.Get("ot")); ok {
		// Round away the binary noise of the threshold (10% is encoded as
		// th:e666…, whose exact probability is 0.1000000000000000055…).
		return math.Round(p*100*1e9) / 1e9
	}
	return 100
}

// thresholdProbability parses the th sub-key of an OpenTelemetry
// tracestate value ("th:8;rv:…") and returns the sampling probability.
func thresholdProbability(ot string) (float64, bool) {
	for ot != "" {
		var field string
		field, ot, _ = strings.Cut(ot, ";")
		th, ok := strings.CutPrefix(field, "th:")
		if !ok {
			continue
		}
		if th == "" || len(th) > 14 {
			return 0, false
		}
		t, err := strconv.ParseUint(th, 16, 64)
		if err != nil {
			return 0, false
		}
		t <<= 4 * uint(14-len(th))
		const max = 1 << 56
		return float64(max-t) / max, true
	}
	return 0, false
}
