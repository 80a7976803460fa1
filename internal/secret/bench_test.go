package secret

import (
	"fmt"
	"strings"
	"testing"
)

// planEvent is a journal event the size of a plan for 10,000
// recalculations: steps, scopes and a connection URL without a password.
var planEvent = func() string {
	var b strings.Builder
	b.WriteString(`{"run":"action-1","plan":{"action":"recalculate","steps":[`)
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, `{"kind":"task","text":"calculations.tasks.recalculate_clinician(%d, '2026-01-01', '2026-01-31')","note":""},`, i)
	}
	b.WriteString(`{"kind":"task","note":"each LPUSHed onto queue celery of redis://127.0.0.1:6379/0"}]}}`)
	return b.String()
}()

// BenchmarkScrubPlanEvent scrubs one large journal event, as every
// append does.
func BenchmarkScrubPlanEvent(b *testing.B) {
	var s Scrubber
	s.AddURL("postgres://app:s3cret-long@db/app")
	b.SetBytes(int64(len(planEvent)))
	for i := 0; i < b.N; i++ {
		_ = s.Scrub(planEvent)
	}
}

// BenchmarkScrubOutputLine scrubs one line of an action's output, as every
// line an action says or a command prints is.
func BenchmarkScrubOutputLine(b *testing.B) {
	var s Scrubber
	s.AddURL("postgres://app:s3cret-long@db/app")
	line := "enqueued calculations.tasks.recalculate_clinician(7, '2026-01-01', '2026-01-31') → task 0b7e1b1e-3c4f-4a5e-9a51-6f0f6f3e2a11"
	for i := 0; i < b.N; i++ {
		_ = s.Scrub(line)
	}
}
