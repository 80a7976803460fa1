package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Command is one command line, run as a child process and timed from
// fork to exit, the way a person at a shell experiences it.
type Command struct {
	// Show is the command as BENCHMARKS.md prints it: relative paths and
	// $VARIABLES instead of the sandbox's ports and passwords.
	Show string
	// Argv runs it; a pipeline is bash -c.
	Argv []string
	Dir  string
	// Env is added to the bench's own environment (later wins).
	Env []string
	// Check looks at a finished run; an error fails the comparison, so a
	// fast failure is never reported as a fast success.
	Check func(r Run) error
}

// Run is one timed execution of a Command.
type Run struct {
	Took           time.Duration
	Exit           int
	Stdout, Stderr []byte
}

// Exec runs the command once. A non-zero exit is not an error here: Check
// decides (steady check exits 1 when a probe finds a fault, and the bench
// data has faults on purpose).
func (c *Command) Exec(ctx context.Context) (Run, error) {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, killed whole on cancel (pipelines, pg_dump).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	started := time.Now()
	err := cmd.Run()
	r := Run{Took: time.Since(started), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Exit = exit.ExitCode()
	case err != nil:
		return r, fmt.Errorf("run %s: %w", c.Show, err)
	}
	if c.Check != nil {
		if err := c.Check(r); err != nil {
			return r, fmt.Errorf("%s (exit %d): %w\n%s", c.Show, r.Exit, err, tailOf(r))
		}
	}
	return r, nil
}

// tailOf is the end of a run's output, for an error message.
func tailOf(r Run) string {
	out := strings.TrimSpace(string(r.Stdout) + "\n" + string(r.Stderr))
	lines := strings.Split(out, "\n")
	if len(lines) > 15 {
		lines = append([]string{"…"}, lines[len(lines)-15:]...)
	}
	return "  " + strings.Join(lines, "\n  ")
}

// exitIn is a Check accepting these exit statuses.
func exitIn(codes ...int) func(Run) error {
	return func(r Run) error {
		if !slices.Contains(codes, r.Exit) {
			return fmt.Errorf("exit status %d, want one of %v", r.Exit, codes)
		}
		return nil
	}
}

// Side says which command of a comparison ran.
type Side string

// The two sides of a comparison.
const (
	SteadySide Side = "steady"
	OtherSide  Side = "other"
)

// Comparison is one row of the benchmark table: steady and the command an
// engineer would use instead, run alternately on the same data.
type Comparison struct {
	ID, What      string
	Steady, Other Command
	// Target is the largest acceptable ratio steady/other of the medians.
	Target float64
	// Prepare runs, untimed, before every run of either side (rebuild
	// what the previous run deleted, empty the journal directory).
	Prepare func(ctx context.Context, side Side) error
	// Observe runs, untimed, after every run of either side (verify the
	// effect, read SLOWLOG); an error fails the comparison.
	Observe func(ctx context.Context, side Side, r Run) error
	// Notes are added to the result after measuring (SLOWLOG findings…);
	// met is false when a side condition of the target was broken.
	Notes func() (notes []string, met bool)
}

// Measure runs warmup unmeasured runs of each side, then runs pairs,
// alternating which side goes first so neither always inherits a warm or
// a busy machine, and compares the medians.
func (c *Comparison) Measure(ctx context.Context, runs, warmup int, log io.Writer) *Result {
	res := &Result{ID: c.ID, What: c.What, SteadyShow: c.Steady.Show, OtherShow: c.Other.Show, TargetText: fmt.Sprintf("≤ %.2f", c.Target)}
	once := func(side Side) (time.Duration, error) {
		cmd := &c.Steady
		if side == OtherSide {
			cmd = &c.Other
		}
		if c.Prepare != nil {
			if err := c.Prepare(ctx, side); err != nil {
				return 0, fmt.Errorf("prepare a run of %s: %w", cmd.Show, err)
			}
		}
		r, err := cmd.Exec(ctx)
		if err != nil {
			return 0, err
		}
		if c.Observe != nil {
			if err := c.Observe(ctx, side, r); err != nil {
				return 0, fmt.Errorf("after %s: %w", cmd.Show, err)
			}
		}
		return r.Took, nil
	}
	for i := 0; i < warmup; i++ {
		for _, side := range []Side{SteadySide, OtherSide} {
			if _, err := once(side); err != nil {
				res.Err = err
				return res
			}
		}
	}
	for i := 0; i < runs; i++ {
		order := []Side{SteadySide, OtherSide}
		if i%2 == 1 {
			order = []Side{OtherSide, SteadySide}
		}
		for _, side := range order {
			d, err := once(side)
			if err != nil {
				res.Err = err
				return res
			}
			if side == SteadySide {
				res.Steady = append(res.Steady, d)
			} else {
				res.Other = append(res.Other, d)
			}
		}
		fmt.Fprintf(log, "bench: %s: run %d/%d: steady %s, other %s\n", c.ID, i+1, runs, ms(res.Steady[i]), ms(res.Other[i]))
	}
	res.SteadyMedian, res.OtherMedian = Median(res.Steady), Median(res.Other)
	res.Ratio = float64(res.SteadyMedian) / float64(res.OtherMedian)
	res.HasRatio = true
	res.SteadyText, res.OtherText = ms(res.SteadyMedian), ms(res.OtherMedian)
	res.Met = res.Ratio <= c.Target
	if c.Notes != nil {
		notes, met := c.Notes()
		res.Notes = append(res.Notes, notes...)
		res.Met = res.Met && met
	}
	return res
}

// Result is one row of the report.
type Result struct {
	ID, What string
	// SteadyShow and OtherShow are the commands (or benchmarks) measured.
	SteadyShow, OtherShow string
	// Samples, in run order.
	Steady, Other             []time.Duration
	SteadyMedian, OtherMedian time.Duration
	// SteadyText and OtherText are the medians as printed (or a value
	// that is not a time: an RSS, a rate).
	SteadyText, OtherText string
	Ratio                 float64
	HasRatio              bool
	TargetText            string
	Met                   bool
	// Notes explain the result: side conditions, what was found, before/after.
	Notes []string
	// Details are longer texts for the report: the SQL run, a plan.
	Details []Detail
	// GoOutput is the raw `go test -bench` output of a Go benchmark row,
	// which benchstat reads.
	GoOutput string
	Err      error
}

// Detail is a block of text in the report.
type Detail struct {
	Title, Lang, Body string
}

// Median returns the median of ds (the mean of the middle two for an even
// count).
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ms formats a duration for the table: milliseconds below ten seconds,
// seconds above.
func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// samplesText lists durations in run order.
func samplesText(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = ms(d)
	}
	return strings.Join(parts, ", ")
}
