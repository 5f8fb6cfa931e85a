package main

import (
	"context"
	"os"

	"github.com/aispool/aispool/benchmarks/internal/benchkit"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// The endpoint role: the chaos kit's fake ingestion endpoint in its
// counting mode (fakeingest.CountBodies: it gunzips each body and counts
// its lines, without decoding them, so that it costs little next to the
// shipper), with the parent's routes /stats and /control on the same
// address. Every shipper posts to it.

// endpointMain serves on 127.0.0.1:0, prints "LISTEN <url>" on stdout and
// serves until its standard input closes or ctx ends. While down (-down,
// or /control?down=1) it answers every track request 503.
func endpointMain(ctx context.Context, f childFlags) error {
	return benchkit.ServeEndpoint(ctx, fakeingest.CountBodies, f.down, os.Stdin, os.Stdout)
}
