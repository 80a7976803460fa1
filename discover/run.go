package discover

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"steady/target"
)

// DjangoOptions say how to reach the project.
type DjangoOptions struct {
	// Manage is the command prefix that runs manage.py.
	Manage string
	// Dir is where to run it; empty runs it here.
	Dir string
	// Timeout bounds the whole run (a Django start-up, no database work).
	Timeout time.Duration
	// Grace is the time between SIGINT and SIGKILL when it is cut short.
	Grace time.Duration
}

// DjangoError is a manage command that did not give a result: it failed,
// printed a traceback, or printed no result.
type DjangoError struct {
	// Line is the command line run; Exit how it ended.
	Line string
	Exit target.Exit
	// Last is the last line it printed (a traceback's last line names
	// the exception).
	Last string
	// Why is set when it ran but gave nothing usable.
	Why string
}

func (e *DjangoError) Error() string {
	what := e.Exit.String()
	if e.Why != "" {
		what = e.Why
	}
	if e.Last != "" {
		return fmt.Sprintf("%s: %s: %s", e.Line, what, e.Last)
	}
	return e.Line + ": " + what
}

// Django runs the discovery script through `<manage> shell`, which
// executes a script read from standard input, and returns what it read.
func Django(ctx context.Context, o DjangoOptions) (*Facts, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	line := target.Join(o.Manage, "shell")
	// A file, not a pipe: `shell` looks for a script on standard input
	// once, without waiting, so the whole script must already be there.
	f, err := os.CreateTemp("", "steady-discover-*.py")
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString(script); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	dir := o.Dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = ""
	}
	var out, errOut strings.Builder
	exit, err := target.Run(ctx, target.Command{Line: line, Dir: dir, Stdin: f}, target.RunOptions{
		Timeout: o.Timeout,
		Grace:   o.Grace,
		OnLine: func(l target.Line) {
			b := &out
			if l.Stream == "stderr" {
				b = &errOut
			}
			if b.Len() < 8<<20 {
				b.WriteString(l.Text + "\n")
			}
		},
	})
	if err != nil {
		return nil, &DjangoError{Line: line, Exit: exit, Why: "could not start", Last: err.Error()}
	}
	facts, perr := ParseOutput(out.String())
	switch {
	case perr == nil && facts.Error != "":
		return nil, &DjangoError{Line: line, Exit: exit, Why: "Django could not be read", Last: facts.Error}
	case perr == nil:
		return facts, nil
	case !exit.OK():
		return nil, &DjangoError{Line: line, Exit: exit, Last: lastLine(errOut.String(), out.String())}
	}
	return nil, &DjangoError{Line: line, Exit: exit, Why: perr.Error(), Last: lastLine(errOut.String(), out.String())}
}

// lastLine is the last non-empty line of the first text that has one.
func lastLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" {
				return l
			}
		}
	}
	return ""
}
