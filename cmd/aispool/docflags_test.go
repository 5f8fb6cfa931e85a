package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// commandLine finds an aispool command line in documentation: "aispool"
// or "go run ./cmd/aispool" and what follows, up to the end of the line or
// of the code span.
var commandLine = regexp.MustCompile("(?:^|[\\s`(])(?:go run \\./cmd/aispool|aispool)[ \\t]+([^`\\n]*)")

// otherTool finds another program's command earlier on the line.
var otherTool = regexp.MustCompile(`\b(podman|docker|helm|kubectl|nerdctl)\s`)

// exampleLine finds a command line of an example program.
var exampleLine = regexp.MustCompile(`go run \./examples/\S+([^\n]*)`)

// TestDocumentedCommandLines: every aispool command line in the README,
// docs/, deploy/ and the examples' comments names commands and flags that
// exist, with two dashes (the CLI has no single-dash long flags), and the
// examples' own command lines use two dashes too.
func TestDocumentedCommandLines(t *testing.T) {
	files := []string{"../../README.md", "../../deploy/aispool.service"}
	for _, glob := range []string{"../../docs/*.md", "../../examples/*/main.go"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	g := &globals{stdout: io.Discard, stderr: io.Discard, lookupEnv: func(string) (string, bool) { return "", false }, environ: func() []string { return nil }}
	root := newRootCommand(g)
	root.InitDefaultVersionFlag() // cobra adds --version and -v when it executes
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "\\\n", " ") // shell line continuations
		for _, ix := range commandLine.FindAllStringSubmatchIndex(text, -1) {
			m := []string{text[ix[0]:ix[1]], text[ix[2]:ix[3]]}
			// "aispool" as an argument of another tool (podman run --name
			// aispool, helm install aispool) is not an aispool command line.
			lineStart := strings.LastIndexByte(text[:ix[0]+1], '\n') + 1
			if otherTool.MatchString(text[lineStart : ix[0]+1]) {
				continue
			}
			checked++
			words := shellWords(m[1])
			cmd, rest, err := root.Find(words)
			if err != nil {
				t.Errorf("%s: %q: %v", file, m[0], err)
				continue
			}
			cmd.InitDefaultHelpFlag()
			_ = cmd.ParseFlags(nil) // merge the global flags
			for _, w := range rest {
				if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
					continue
				}
				name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
				if !strings.HasPrefix(w, "--") {
					if len(name) > 1 {
						t.Errorf("%s: %q: single-dash flag %s; the CLI's long flags take two dashes", file, strings.TrimSpace(m[0]), w)
					} else if cmd.Flags().ShorthandLookup(name) == nil {
						t.Errorf("%s: %q: %s is no flag of %s", file, strings.TrimSpace(m[0]), w, cmd.CommandPath())
					}
					continue
				}
				if cmd.Flags().Lookup(name) == nil {
					t.Errorf("%s: %q: %s is no flag of %s", file, strings.TrimSpace(m[0]), w, cmd.CommandPath())
				}
			}
		}
		for _, m := range exampleLine.FindAllStringSubmatch(text, -1) {
			for _, w := range shellWords(m[1]) {
				if strings.HasPrefix(w, "-") && !strings.HasPrefix(w, "--") && len(w) > 2 {
					t.Errorf("%s: %q: single-dash flag %s; write --%s", file, strings.TrimSpace(m[0]), w, strings.TrimLeft(w, "-"))
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d command lines found: the pattern is broken", checked)
	}
}

// shellWords splits a documented command line into words, up to a comment
// or a shell operator; quotes are dropped.
func shellWords(s string) []string {
	var words []string
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "#") || strings.ContainsAny(f[:1], "|;&><)") || f == "…" {
			break
		}
		words = append(words, strings.Trim(f, `"'`))
	}
	return words
}

// TestDocsNameTheNodeExporterVersion: the docs tell users the Node.js
// exporter version the tests run (npm's latest tag is an old preview that
// rejects connection strings).
func TestDocsNameTheNodeExporterVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(nodeClientDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	const name = "@azure/monitor-opentelemetry-exporter"
	v := pkg.Dependencies[name]
	if v == "" {
		t.Fatalf("package.json has no %s", name)
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "npm install " + name + "@" + v; !strings.Contains(string(ops), want) {
		t.Errorf("docs/operations.md does not say %q", want)
	}
}
