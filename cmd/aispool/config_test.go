package main

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// sampleConfig is the configuration file shipped as an example.
const sampleConfig = "../../deploy/aispool.yaml"

// parsedCommand returns the command of args (such as "run") of a fresh
// command tree, its flags parsed from args, and the tree's globals, in the
// environment env.
func parsedCommand(t *testing.T, env map[string]string, args ...string) (*cobra.Command, *globals) {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	g := &globals{stdout: io.Discard, stderr: io.Discard,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		environ:   func() []string { return environ },
	}
	root := newRootCommand(g)
	cmd, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return cmd, g
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aispool.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSampleConfigIsTheDefaults: deploy/aispool.yaml parses, holds every
// setting of run (a flag added to run must be added there), and every
// value in it is the flag's default.
func TestSampleConfigIsTheDefaults(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(file.Provider(sampleConfig), yaml.Parser()); err != nil {
		t.Fatalf("%s does not parse: %v", sampleConfig, err)
	}
	cmd, g := parsedCommand(t, nil, "run", "--config", sampleConfig)
	keys := settingKeys(g, cmd.Root())
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if !k.Exists(key) {
			t.Errorf("%s lacks the key %s (default %s)", sampleConfig, key, keys[key].DefValue)
		}
	}
	if _, err := applyConfig(cmd, g); err != nil {
		t.Fatalf("applying %s: %v", sampleConfig, err)
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if keys[f.Name] != nil && f.Value.String() != f.DefValue {
			t.Errorf("%s: %s is %s, but its default is %s", sampleConfig, f.Name, f.Value.String(), f.DefValue)
		}
	})
}

// TestEverySettingHasAVariable: every flag of run can be set from its
// AISPOOL_ variable and from the file, with no code per flag: a flag
// added to run gets both.
func TestEverySettingHasAVariable(t *testing.T) {
	_, g := parsedCommand(t, nil, "run")
	keys := settingKeys(g, newRootCommand(g))
	if len(keys) < 20 {
		t.Fatalf("only %d settings: %v", len(keys), slices.Sorted(maps.Keys(keys)))
	}
	env := map[string]string{}
	var file strings.Builder
	for key, f := range keys {
		v := f.DefValue
		if _, ok := f.Value.(pflag.SliceValue); ok {
			v = ""
		}
		env[envName(key)] = v
		file.WriteString(key + ": \"" + v + "\"\n")
	}
	cmd, g := parsedCommand(t, env, "run")
	src, err := applyConfig(cmd, g)
	if err != nil {
		t.Fatal(err)
	}
	for key := range keys {
		if src[key] != envName(key) {
			t.Errorf("%s: set from %q, want %s", key, src[key], envName(key))
		}
	}
	cmd, g = parsedCommand(t, nil, "run", "--config", writeConfig(t, file.String()))
	if src, err = applyConfig(cmd, g); err != nil {
		t.Fatal(err)
	}
	if len(src) != len(keys) {
		t.Errorf("%d settings set from the file, want %d", len(src), len(keys))
	}
}

// printedSetting runs validate --print-config and returns the value it
// prints for key.
func printedSetting(t *testing.T, env map[string]string, key string, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, env, append([]string{"validate", "--print-config"}, args...)...)
	if code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, errOut)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	t.Fatalf("validate --print-config printed no %s:\n%s", key, out)
	return ""
}

func TestConfigPrecedence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	cfg := writeConfig(t, "spool-dir: "+dir+"\nconnection-string: \""+goodCS+"\"\nmax-in-flight: 3\nrequest-timeout: 7s\nlog-level: warn\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"default", nil, []string{"--spool-dir", dir, "--connection-string", goodCS}, "2"},
		{"file", nil, []string{"--config", cfg}, "3"},
		{"file from AISPOOL_CONFIG", map[string]string{"AISPOOL_CONFIG": cfg}, nil, "3"},
		{"environment over file", map[string]string{"AISPOOL_MAX_IN_FLIGHT": "4"}, []string{"--config", cfg}, "4"},
		{"flag over environment and file", map[string]string{"AISPOOL_MAX_IN_FLIGHT": "4"}, []string{"--config", cfg, "--max-in-flight", "5"}, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := printedSetting(t, tc.env, "max-in-flight", tc.args...); got != tc.want {
				t.Fatalf("max-in-flight %s, want %s", got, tc.want)
			}
		})
	}
	// The file sets what the others leave alone, global flags included.
	env := map[string]string{"AISPOOL_MAX_IN_FLIGHT": "4"}
	if got := printedSetting(t, env, "request-timeout", "--config", cfg); got != "7s" {
		t.Errorf("request-timeout %s, want 7s", got)
	}
	if got := printedSetting(t, env, "log-level", "--config", cfg); got != "warn" {
		t.Errorf("log-level %s, want warn", got)
	}
	if got := printedSetting(t, env, "connection-string", "--config", cfg); got != "<hidden>" {
		t.Errorf("connection-string printed as %s", got)
	}
	// Lists: a YAML list, or comma-separated in a variable.
	list := writeConfig(t, "allow-network: [10.0.0.0/8, 192.168.1.1]\n")
	if code, out, errOut := cli(t, nil, "validate", "--print-config", "--config", list, "--spool-dir", dir, "--connection-string", goodCS); code != 0 ||
		!strings.Contains(out, "allow-network:\n    - 10.0.0.0/8\n    - 192.168.1.1\n") || !strings.Contains(out, "networks 10.0.0.0/8,192.168.1.1") {
		t.Errorf("allow-network from a YAML list: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, map[string]string{"AISPOOL_ALLOW_NETWORK": "10.0.0.0/8, 192.168.1.1"}, "validate", "--spool-dir", dir, "--connection-string", goodCS); code != 0 ||
		!strings.Contains(out, "networks 10.0.0.0/8,192.168.1.1") {
		t.Errorf("allow-network from AISPOOL_ALLOW_NETWORK: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestConfigErrors: a bad file or variable is a configuration error (78)
// that names the key or the variable the user wrote, and so is a value
// from them that validation refuses.
func TestConfigErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	base := []string{"--spool-dir", dir, "--connection-string", goodCS}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		file    string // content of the --config file, if not empty
		args    []string
		want    []string
		notWant string
	}{
		{"unknown key", nil, "max-inflight: 3\n", nil, []string{`unknown key "max-inflight" (did you mean "max-in-flight"?)`}, ""},
		{"nested key", nil, "tls:\n  cert: x\n", nil, []string{`unknown key "tls.cert"`}, ""},
		{"not YAML", nil, "max-in-flight: [3\n", nil, []string{"--config"}, ""},
		{"missing file", nil, "", []string{"--config", "/nonexistent/aispool.yaml"}, []string{"--config /nonexistent/aispool.yaml", "no such file"}, ""},
		{"unparsable value in the file", nil, "max-in-flight: many\n", nil, []string{`max-in-flight (in `, `"many": not a whole number`}, ""},
		{"list for a single value", nil, "max-in-flight: [1, 2]\n", nil, []string{"max-in-flight (in ", "a list"}, ""},
		{"bad word in the file", nil, "log-format: xml\n", nil, []string{"log-format (in ", `"xml": want text, json`}, ""},
		{"unparsable variable", map[string]string{"AISPOOL_REQUEST_TIMEOUT": "soon"}, "", nil, []string{"AISPOOL_REQUEST_TIMEOUT", "soon"}, ""},
		{"invalid value from a variable", map[string]string{"AISPOOL_MAX_IN_FLIGHT": "0"}, "", nil, []string{"AISPOOL_MAX_IN_FLIGHT 0: must be 1 to 64"}, "--max-in-flight"},
		{"invalid value from the file", nil, "max-spool-bytes: 10\nbackoff-initial: 2s\nbackoff-max: 1s\n", nil,
			[]string{"max-spool-bytes (in ", ") 10 must be at least twice the segment size", "backoff-max (in ", "): 1s below backoff-initial (in "}, "--max-spool-bytes"},
		{"the flag is named when the flag set it", map[string]string{"AISPOOL_MAX_IN_FLIGHT": "3"}, "", []string{"--max-in-flight", "0"}, []string{"--max-in-flight 0: must be 1 to 64"}, "AISPOOL_"},
		{"every problem at once", map[string]string{"AISPOOL_REQUEST_TIMEOUT": "soon"}, "max-inflight: 3\nmax-batch-items: lots\n", nil,
			[]string{"AISPOOL_REQUEST_TIMEOUT", "max-inflight", "max-batch-items (in "}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"validate"}, base...)
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			args = append(args, tc.args...)
			code, _, errOut := cli(t, tc.env, args...)
			if code != exitConfig {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitConfig, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if tc.notWant != "" && strings.Contains(errOut, tc.notWant) {
				t.Errorf("stderr %q has %q", errOut, tc.notWant)
			}
		})
	}
}

func TestValidateWarnsOfUnknownVariables(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	code, _, errOut := cli(t, map[string]string{"AISPOOL_SPOOL_DRI": "/x", "AISPOOL_MAX_IN_FLIGHT": "3"}, "validate", "--spool-dir", dir, "--connection-string", goodCS)
	if code != 0 || !strings.Contains(errOut, "AISPOOL_SPOOL_DRI names no setting") || strings.Contains(errOut, "AISPOOL_MAX_IN_FLIGHT") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

// TestValidateChecksWhatRunChecks: what run refuses at start, validate
// refuses too, with the same exit code and naming the same flag; among
// them what validate passed before (issue 16).
func TestValidateChecksWhatRunChecks(t *testing.T) {
	tmp := t.TempDir()
	notCert := filepath.Join(tmp, "cert.pem")
	if err := os.WriteFile(notCert, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aFile := filepath.Join(tmp, "file")
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
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"admin port out of range", []string{"--admin-listen", ":99999"}, `--admin-listen ":99999": port 99999 not in 0..65535`},
		{"no requests in flight", []string{"--max-in-flight", "0"}, "--max-in-flight 0: must be 1 to 64"},
		{"spool smaller than two segments", []string{"--max-spool-bytes", "10"}, "--max-spool-bytes 10 must be at least twice the segment size"},
		{"no request timeout", []string{"--request-timeout", "0s"}, "--request-timeout 0s: must be positive"},
		{"a certificate that is not one", []string{"--tls-cert", notCert, "--tls-key", notCert}, "--tls-cert/--tls-key"},
		{"spool dir that is a file", []string{"--spool-dir", aFile}, "is not a directory"},
		{"spool dir writable by others", []string{"--spool-dir", open}, "writable by group or others"},
		{"batch too large", []string{"--max-batch-items", "70000"}, "--max-batch-items: 70000 not in 1..64000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--spool-dir", filepath.Join(t.TempDir(), "spool"), "--connection-string", goodCS,
				"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, tc.args...)
			for _, command := range []string{"validate", "run"} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				code, _, errOut := cliContext(ctx, t, nil, append([]string{command}, args...)...)
				cancel()
				if code != exitConfig || !strings.Contains(errOut, tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want %d and %q", command, code, errOut, exitConfig, tc.want)
				}
				for _, field := range []string{"MaxInFlight", "MaxBatchItems", "RequestTimeout", "MaxBytes", "BackoffMax"} {
					if strings.Contains(errOut, field) {
						t.Errorf("%s: stderr names the Go field %s: %q", command, field, errOut)
					}
				}
			}
		})
	}
}

// TestManAndCompletion: the manual pages and the shell completion come
// from the commands themselves.
func TestManAndCompletion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man")
	if code, out, errOut := cli(t, nil, "man", "--dir", dir); code != 0 {
		t.Fatalf("man: exit %d\n%s%s", code, out, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "aispool-run.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "AISPOOL-RUN" "1"`, `\fB--spool-dir\fP`, `\fB--config\fP`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("aispool-run.1 lacks %q", want)
		}
	}
	for _, name := range []string{"aispool.1", "aispool-inspect.1", "aispool-chaos-run.1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if code, _, errOut := cli(t, nil, "man"); code != exitUsage || !strings.Contains(errOut, "--dir") {
		t.Errorf("man without --dir: exit %d, %s", code, errOut)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := cli(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "aispool") {
			t.Errorf("completion %s: exit %d, %d bytes; %s", shell, code, len(out), errOut)
		}
	}
}
