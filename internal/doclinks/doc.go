// Package doclinks checks the project's documentation: every relative link
// in README.md, CHANGELOG.md and docs/ must resolve to a file or directory
// of the repository (and a #fragment to a heading of the Markdown file it
// names), and no link may leave the repository, whether by a relative path
// that climbs out of it or by a web address. The documentation restates
// what it needs instead of sending readers elsewhere.
//
// Its test runs [Check] on the repository, so `go test ./...` (and CI)
// fails on a broken link; `make docs` runs it alone.
package doclinks
