// Package poll waits, in tests, for what a system reaches in its own
// time (a file written, a process gone, a screen drawn, a row archived) by
// looking again every Interval until it holds or a deadline passes, so no
// test sleeps for a fixed time and none waits longer than it must.
package poll

import (
	"testing"
	"time"
)

// Interval is how often a condition is looked at again.
const Interval = 20 * time.Millisecond

// Within reports whether cond holds within timeout.
func Within(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Interval)
	}
	return true
}

// Until fails t unless cond holds within timeout, saying what it waited
// for and, when describe is not nil, the last state it saw.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	if Within(timeout, cond) {
		return
	}
	detail := ""
	if describe != nil {
		detail = "; the last state seen:\n" + describe()
	}
	t.Fatalf("timed out after %s waiting for %s%s", timeout, what, detail)
}
