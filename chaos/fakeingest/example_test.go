package fakeingest_test

import (
	"fmt"

	"github.com/aispool/aispool/chaos/fakeingest"
)

// The flaky endpoint alone, for any shipper.
func ExampleEndpoint() {
	p, _ := fakeingest.ProfileByName("throttled")
	ep, err := fakeingest.New(fakeingest.Config{Profile: p, Seed: 1})
	if err != nil {
		panic(err)
	}
	if err := ep.Start(); err != nil {
		panic(err)
	}
	defer ep.Close()
	// Give the shipper ep.ConnectionString(""); afterwards:
	rep := ep.Report()
	fmt.Println(rep.Profile, rep.Requests, len(rep.Unaccounted([]string{"never-sent"})))
	// Output: throttled 0 1
}
