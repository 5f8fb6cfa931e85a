package fakeingest

// TB is the part of testing.TB that StartForTest needs; *testing.T and
// *testing.B satisfy it. (An interface of its own keeps the testing
// package out of the programs that serve the endpoint, such as
// `aispool chaos serve`.)
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(f func())
}

// StartForTest creates an endpoint from cfg and starts it for the test t:
// it fails the test if the endpoint cannot be created or started, and
// closes it when the test and its subtests have finished, failing the test
// if Close returns an error.
func StartForTest(t TB, cfg Config) *Endpoint {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("fakeingest.New: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("start the fake ingestion endpoint on %s: %v", e.cfg.Addr, err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close the fake ingestion endpoint: %v", err)
		}
	})
	return e
}
