package doclinks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the directory holding go.mod, above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestRepositoryLinks is the check itself: every link of the repository's
// README.md, CHANGELOG.md and docs/ resolves inside the repository.
func TestRepositoryLinks(t *testing.T) {
	root := moduleRoot(t)
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"README.md", "CHANGELOG.md"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is missing from the repository", want)
		}
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, "docs/") }) {
		t.Error("no Markdown file under docs/")
	}
	problems, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCheckFindsEveryKindOfBadLink runs Check on a small repository in
// testdata whose files hold one good and one bad link of each kind, so the
// check is known to fail when it should.
func TestCheckFindsEveryKindOfBadLink(t *testing.T) {
	problems, err := Check(filepath.Join("testdata", "repo"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.File+" "+p.Link)
	}
	want := []string{
		"README.md docs/missing.md",
		"README.md ../outside.md",
		"README.md https://example.com/page",
		"README.md docs/guide.md#no-such-heading",
		"README.md #not-here",
		"README.md https://example.org/bare",
		"README.md /docs/guide.md",
		"docs/guide.md ../README.md#nope",
		"docs/guide.md ref-target-missing.md",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Design", "design"},
		{"Caveats and limitations", "caveats-and-limitations"},
		{"aispool chaos run", "aispool-chaos-run"},
		{"`aispool run`", "aispool-run"},
		{"The ingestion protocol (\"Breeze\")", "the-ingestion-protocol-breeze"},
		{"Back-off, throttling and pacing", "back-off-throttling-and-pacing"},
		{"Tools (CI only, run with `go run`)", "tools-ci-only-run-with-go-run"},
		{"See [the guide](guide.md)", "see-the-guide"},
		{"Café 2.0", "café-20"},
	} {
		if got := Slug(tc.heading); got != tc.want {
			t.Errorf("Slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

func TestStripCodeSpans(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a `[x](y)` b", "a   b"},
		{"a ``x ` [y](z)`` b", "a   b"},
		{"unmatched ` [x](y)", "unmatched ` [x](y)"},
		{"no code", "no code"},
	} {
		if got := stripCodeSpans(tc.in); got != tc.want {
			t.Errorf("stripCodeSpans(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
