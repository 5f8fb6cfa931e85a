package doclinks

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Problem is one link that does not resolve inside the repository.
type Problem struct {
	File string // relative to the repository root, with '/'
	Line int    // 1-based
	Link string // the link's destination as written
	Why  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: link %q: %s", p.File, p.Line, p.Link, p.Why)
}

// Files returns the documentation files that Check reads, relative to root:
// README.md and CHANGELOG.md if they exist, and every .md file under docs/.
func Files(root string) ([]string, error) {
	var files []string
	for _, f := range []string{"README.md", "CHANGELOG.md"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			files = append(files, f)
		} else if !os.IsNotExist(err) {
			return nil, err
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == filepath.Join(root, "docs") {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// Check reads the documentation files of the repository at root (see
// [Files]) and returns every link that does not resolve inside it.
func Check(root string) ([]Problem, error) {
	files, err := Files(root)
	if err != nil {
		return nil, err
	}
	c := checker{root: root, anchors: map[string][]string{}}
	var problems []Problem
	for _, f := range files {
		links, err := c.links(f)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			if why := c.resolve(f, l.dest); why != "" {
				problems = append(problems, Problem{File: f, Line: l.line, Link: l.dest, Why: why})
			}
		}
	}
	return problems, nil
}

type link struct {
	line int
	dest string
}

type checker struct {
	root    string
	anchors map[string][]string // Markdown file (relative, '/') -> heading anchors
}

var (
	// [text](dest "title") and ![alt](dest): the destination up to white
	// space or the closing parenthesis; <dest> may hold spaces.
	inlineLink = regexp.MustCompile(`\]\(\s*(<[^>]*>|[^)\s]*)`)
	// [label]: dest
	refDef = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	// <https://...> and bare web addresses, which GitHub turns into links.
	autoLink = regexp.MustCompile(`(?i)<((?:https?|ftp|mailto):[^>\s]*)>|\b((?:https?|ftp)://[^\s)>\]]+)`)
	scheme   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	fence    = regexp.MustCompile("^\\s{0,3}(```+|~~~+)")
	heading  = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// links returns the link destinations of a Markdown file, outside code
// blocks and code spans.
func (c *checker) links(file string) ([]link, error) {
	lines, err := c.lines(file)
	if err != nil {
		return nil, err
	}
	var out []link
	for i, text := range lines {
		if text == "" {
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			out = append(out, link{i + 1, strings.Trim(m[1], "<>")})
		}
		if m := refDef.FindStringSubmatch(text); m != nil {
			out = append(out, link{i + 1, strings.Trim(m[1], "<>")})
		}
		for _, m := range autoLink.FindAllStringSubmatch(text, -1) {
			d := m[1]
			if d == "" {
				d = strings.TrimRight(m[2], ".,:;!?'\"*_~") // trailing punctuation is not part of a bare address
			}
			if !slices.ContainsFunc(out, func(l link) bool { return l.line == i+1 && l.dest == d }) {
				out = append(out, link{i + 1, d})
			}
		}
	}
	return out, nil
}

// lines returns the file's lines with fenced code blocks blanked and code
// spans removed, so that examples are not taken for links.
func (c *checker) lines(file string) ([]string, error) {
	var out []string
	err := c.scan(file, func(text string, code bool) {
		if code {
			text = ""
		}
		out = append(out, stripCodeSpans(text))
	})
	return out, err
}

// scan calls f with each line of file and whether it belongs to a fenced
// code block (its fences included).
func (c *checker) scan(file string, f func(text string, code bool)) error {
	fh, err := os.Open(filepath.Join(c.root, filepath.FromSlash(file)))
	if err != nil {
		return err
	}
	defer fh.Close()
	var inFence string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		if m := fence.FindStringSubmatch(text); m != nil {
			switch {
			case inFence == "":
				inFence = m[1]
			case strings.HasPrefix(m[1], inFence[:1]) && len(m[1]) >= len(inFence):
				inFence = ""
			}
			f(text, true)
			continue
		}
		f(text, inFence != "")
	}
	return sc.Err()
}

// stripCodeSpans replaces `code spans` (opened and closed by backtick runs
// of the same length) with a space; an unmatched run is kept as text.
func stripCodeSpans(s string) string {
	runAt := func(i int) int {
		n := i
		for n < len(s) && s[n] == '`' {
			n++
		}
		return n - i
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := runAt(i)
		closing := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := runAt(j)
			if m == n {
				closing = j
				break
			}
			j += m
		}
		if closing < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		b.WriteByte(' ')
		i = closing + n
	}
	return b.String()
}

// resolve returns why dest, linked from file, does not resolve inside the
// repository, or "" if it does.
func (c *checker) resolve(file, dest string) string {
	if dest == "" {
		return "empty destination"
	}
	if scheme.MatchString(dest) {
		return "leaves the repository (a web address): restate what is needed in docs/ instead"
	}
	path, frag, _ := strings.Cut(dest, "#")
	target := file
	if path != "" {
		p, err := url.PathUnescape(path)
		if err != nil {
			return "the path is not valid URL encoding"
		}
		if strings.HasPrefix(p, "/") {
			return "absolute path: use a path relative to the file"
		}
		target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(filepath.FromSlash(file)), filepath.FromSlash(p))))
		if target == ".." || strings.HasPrefix(target, "../") {
			return "leaves the repository"
		}
		if _, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(target))); err != nil {
			return "no such file in the repository"
		}
	}
	if frag == "" || !strings.HasSuffix(target, ".md") {
		return ""
	}
	anchors, err := c.headingAnchors(target)
	if err != nil {
		return fmt.Sprintf("cannot read %s: %v", target, err)
	}
	if !slices.Contains(anchors, strings.ToLower(frag)) {
		return fmt.Sprintf("no heading of %s has the anchor #%s", target, frag)
	}
	return ""
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown file.
func (c *checker) headingAnchors(file string) ([]string, error) {
	if a, ok := c.anchors[file]; ok {
		return a, nil
	}
	lines, err := c.rawHeadings(file)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	var anchors []string
	for _, h := range lines {
		a := Slug(h)
		if n := seen[a]; n > 0 {
			anchors = append(anchors, fmt.Sprintf("%s-%d", a, n))
		} else {
			anchors = append(anchors, a)
		}
		seen[a]++
	}
	c.anchors[file] = anchors
	return anchors, nil
}

// rawHeadings returns the text of the file's headings, outside code
// blocks.
func (c *checker) rawHeadings(file string) ([]string, error) {
	var out []string
	err := c.scan(file, func(text string, code bool) {
		if m := heading.FindStringSubmatch(text); m != nil && !code {
			out = append(out, m[2])
		}
	})
	return out, err
}

var mdLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// Slug returns the anchor GitHub derives from a heading's text: links
// replaced by their text, lower case, every character but letters, marks,
// digits, '_', '-' and ' ' removed, spaces turned into '-'.
func Slug(h string) string {
	h = mdLink.ReplaceAllString(h, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
