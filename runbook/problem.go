package runbook

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a runbook, at a line of its file.
type Problem struct {
	File string
	Line int
	Msg  string
	// Hint says how to fix it, when there is something useful to say.
	Hint string
}

// String formats the problem as FILE:LINE: message (hint).
func (p Problem) String() string {
	s := fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	if p.Hint != "" {
		s += " (" + p.Hint + ")"
	}
	return s
}

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

// Error joins the problems, one per line, sorted by line.
func (ps Problems) Error() string {
	sorted := append(Problems(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Line < sorted[j].Line })
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}
