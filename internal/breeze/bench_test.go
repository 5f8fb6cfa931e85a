package breeze

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aispool/aispool/internal/testkit"
)

// BenchmarkDecode decodes a body of 512 envelopes of about 600 bytes (an
// SDK's batch) in each form.
func BenchmarkDecode(b *testing.B) {
	items := make([]string, 512)
	for i := range items {
		items[i] = fmt.Sprintf(`{"ver":1,"name":"Microsoft.ApplicationInsights.Request","time":"2026-11-25T11:58:41.8330000Z","iKey":"11111111-2222-3333-4444-555555555555","tags":{"ai.cloud.role":"shop","ai.operation.id":"e729f56db86b750890f6659faa4c3305"},"data":{"baseType":"RequestData","baseData":{"ver":2,"id":"8ad71da1db5c%04d","name":"GET /items/:id","duration":"00:00:00.0012052","success":true,"responseCode":"200","url":"http://shop.example/items/%d","properties":{"seq":"%d","http.method":"GET"}}}}`, i, i, i)
	}
	nd := strings.Join(items, "\n") + "\n"
	arr := "[\n  " + strings.Join(items, ",\n  ") + "\n]"
	for _, f := range []struct {
		name, body string
		gzip       bool
	}{{"ndjson", nd, false}, {"ndjson-gzip", nd, true}, {"array", arr, false}, {"array-gzip", arr, true}} {
		body := []byte(f.body)
		enc := ""
		if f.gzip {
			body, enc = testkit.Gzip(f.body), "gzip"
		}
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.body)))
			b.ReportAllocs()
			for b.Loop() {
				its, err := Decode(bytes.NewReader(body), enc, Limits{})
				if err != nil || len(its) != 512 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
