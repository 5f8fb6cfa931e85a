package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
	"github.com/aispool/aispool/sender"
	"github.com/aispool/aispool/spool"
)

// goFields matches, as whole words, the field names of the structs whose
// Validate errors the daemon shows: none may reach the user.
func goFields(t *testing.T) *regexp.Regexp {
	t.Helper()
	var names []string
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[sender.Config](), reflect.TypeFor[spool.Options](), reflect.TypeFor[Exposure]()} {
		for f := range typ.Fields() {
			names = append(names, f.Name)
		}
	}
	return regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
}

// TestValidateMakesRunsChecks: each configuration that New refuses (or
// that nothing refused before) is refused by Validate, naming the flag a
// user typed and no Go field.
func TestValidateMakesRunsChecks(t *testing.T) {
	tmp := t.TempDir()
	notCert := filepath.Join(tmp, "not-a-cert.pem")
	if err := os.WriteFile(notCert, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _ := testkit.SelfSignedCert(t, tmp)
	aFile := filepath.Join(tmp, "a-file")
	if err := os.WriteFile(aFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	fields := goFields(t)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"admin port out of range", func(c *Config) { c.AdminListen = ":99999" }, []string{`--admin-listen ":99999": port 99999 not in 0..65535`}},
		{"listen port not a number", func(c *Config) { c.Listen = "127.0.0.1:nosuchservice" }, []string{`--listen "127.0.0.1:nosuchservice"`}},
		{"zero in flight", func(c *Config) { c.Sender.MaxInFlight = 0 }, []string{"--max-in-flight 0: must be 1 to 64"}},
		{"too many in flight", func(c *Config) { c.Sender.MaxInFlight = 65 }, []string{"--max-in-flight: 65 not in 1..64"}},
		{"zero batch", func(c *Config) { c.Sender.MaxBatchItems = 0 }, []string{"--max-batch-items 0"}},
		{"huge batch", func(c *Config) { c.Sender.MaxBatchItems = 70000 }, []string{"--max-batch-items: 70000 not in 1..64000"}},
		{"tiny spool", func(c *Config) { c.MaxSpoolBytes = 10 }, []string{"--max-spool-bytes 10 must be at least twice the segment size"}},
		{"zero spool", func(c *Config) { c.MaxSpoolBytes = 0 }, []string{"--max-spool-bytes 0: must be positive"}},
		{"zero max age", func(c *Config) { c.MaxAge = 0 }, []string{"--max-age 0s: must be positive"}},
		{"zero request timeout", func(c *Config) { c.Sender.RequestTimeout = 0 }, []string{"--request-timeout 0s: must be positive"}},
		{"negative request timeout", func(c *Config) { c.Sender.RequestTimeout = -time.Second }, []string{"--request-timeout: -1s negative"}},
		{"back-off max below initial", func(c *Config) { c.Sender.BackoffInitial, c.Sender.BackoffMax = 2*time.Second, time.Second },
			[]string{"--backoff-max: 1s below --backoff-initial 2s"}},
		{"zero back-off", func(c *Config) { c.Sender.BackoffInitial = 0 }, []string{"--backoff-initial 0s: must be positive"}},
		{"certificate that is not one", func(c *Config) { c.TLSCert, c.TLSKey = notCert, keyFile }, []string{"--tls-cert/--tls-key", "certificate"}},
		{"key that is not one", func(c *Config) { c.TLSCert, c.TLSKey = certFile, notCert }, []string{"--tls-cert/--tls-key"}},
		{"spool dir is a file", func(c *Config) { c.SpoolDir = aFile }, []string{"--spool-dir", "is not a directory"}},
		{"spool dir writable by others", func(c *Config) { c.SpoolDir = open }, []string{"--spool-dir", "writable by group or others"}},
		{"spool dir under a directory others can write", func(c *Config) { c.SpoolDir = filepath.Join(open, "a", "spool") }, []string{"--spool-dir", "can move or delete the spool directory"}},
		{"every problem at once", func(c *Config) { c.AdminListen, c.Sender.MaxInFlight, c.MaxSpoolBytes = ":99999", 0, 10 },
			[]string{"--admin-listen", "--max-in-flight", "--max-spool-bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t, cs)
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if m := fields.FindString(err.Error()); m != "" {
				t.Errorf("error names the Go field %s: %q", m, err)
			}
			// New refuses it too, for the same reason.
			if _, err := New(t.Context(), c); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
	// A valid certificate and key pass.
	c := testConfig(t, cs)
	c.TLSCert, c.TLSKey = certFile, keyFile
	if err := c.Validate(); err != nil {
		t.Fatalf("valid TLS pair: %v", err)
	}
}

// TestDefaultConfigIsValid: the defaults need only a spool directory and a
// connection string.
func TestDefaultConfigIsValid(t *testing.T) {
	c := DefaultConfig()
	c.SpoolDir = filepath.Join(t.TempDir(), "spool")
	c.ConnectionString = cs
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.SpoolDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Validate created the spool directory (stat: %v)", err)
	}
}
