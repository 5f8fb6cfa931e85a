package entra_test

import (
	"context"
	"fmt"
	"os"

	"github.com/aispool/aispool/entra"
	"github.com/aispool/aispool/exporter"
)

// A trace exporter that authenticates with the program's managed identity,
// as APPLICATIONINSIGHTS_AUTHENTICATION_STRING says, or else with the
// default credential chain.
func Example() {
	src, err := entra.FromEnvironment(os.LookupEnv)
	if err != nil {
		fmt.Println(err)
		return
	}
	if src == nil {
		if src, err = entra.NewSource(entra.Options{Credential: entra.Default}); err != nil {
			fmt.Println(err)
			return
		}
	}
	exp, err := exporter.NewTraceExporter(context.Background(),
		exporter.WithConnectionString("InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;Authorization=AAD"),
		exporter.WithTokenSource(src),
		exporter.WithSpoolDir(os.TempDir()+"/aispool-example-entra"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = exp // give it to sdktrace.WithBatcher
}

// A user-assigned managed identity, by its client id.
func ExampleNewSource() {
	src, err := entra.NewSource(entra.Options{Credential: entra.ManagedIdentity, ClientID: "11111111-2222-3333-4444-555555555555"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(src)
	// Output: managed-identity (client id 11111111-2222-3333-4444-555555555555)
}
