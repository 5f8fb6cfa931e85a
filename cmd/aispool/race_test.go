//go:build race

package main

// raceEnabled: the race detector multiplies memory use, so memory figures
// of a child process are not asserted.
const raceEnabled = true
