package poll

import (
	"testing"
	"time"
)

func TestWithin(t *testing.T) {
	start := time.Now()
	n := 0
	if !Within(time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("a condition that holds on the third look did not hold within a second")
	}
	if n != 3 {
		t.Errorf("looked %d times, want 3: it stops at the first look that holds", n)
	}
	if Within(50*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds held")
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("took %s for two short waits", waited)
	}
}
