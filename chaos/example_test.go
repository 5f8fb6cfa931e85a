package chaos_test

import (
	"context"
	"fmt"

	"github.com/aispool/aispool/chaos"
	"github.com/aispool/aispool/chaos/fakeingest"
)

// A scenario drives envelopes through the exporter, spool and sender in
// this process against the flaky endpoint, and verifies nothing was lost.
func ExampleScenario() {
	p, err := fakeingest.ProfileByName("partial")
	if err != nil {
		panic(err)
	}
	sc := &chaos.Scenario{Profile: p, Seed: 42, Envelopes: 500}
	res, err := sc.Run(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("passed:", res.Passed())
	fmt.Println("acknowledged:", res.Acknowledged)
	fmt.Println("lost:", res.LostCount)
	dropped := 0
	for _, n := range res.Dropped { // permanent refusals, sampled out
		dropped += n
	}
	fmt.Println("delivered or dropped, counted:", res.Delivered+dropped == res.Acknowledged)
	// Output:
	// passed: true
	// acknowledged: 500
	// lost: 0
	// delivered or dropped, counted: true
}
