package main

import (
	"context"
	"os"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// The endpoint role: the loopback ingestion endpoint, a healthy
// fakeingest.Endpoint that counts (or discards) bodies instead of decoding
// them, so that it costs little next to the shipper, with the parent's
// routes /stats and /control on the same address.

// endpointMain serves on 127.0.0.1:0, prints "LISTEN <url>" on stdout and
// serves until its standard input closes or ctx ends. It gunzips each
// body, counts its lines (items) and answers 200 with itemsReceived =
// itemsAccepted; with -discard it reads each body and throws it away
// unread (no gunzip, no count) and answers 200, which acknowledges every
// item. While down (-down, or /control?down=1) it answers 503.
func endpointMain(ctx context.Context, f childFlags) error {
	bodies := fakeingest.CountBodies
	if f.discard {
		bodies = fakeingest.DiscardBodies
	}
	return benchkit.ServeEndpoint(ctx, bodies, f.down, os.Stdin, os.Stdout)
}
