package django

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ansiRE matches terminal colour codes, which manage.py prints when it
// believes it writes to a terminal.
var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

var (
	// planLineRE is a line of `showmigrations --plan`: "[X]  app.name",
	// followed at verbosity 2 by " ... (dependencies)".
	planLineRE = regexp.MustCompile(`^\[( |X)\]\s+(\w+)\.(\w+)(?:\s|$)`)
	// listLineRE is a migration line of plain `showmigrations`:
	// " [X] name", optionally "(N squashed migrations)" and, at
	// verbosity 2, "(applied at ...)".
	listLineRE = regexp.MustCompile(`^\s+\[( |X)\]\s+(\w+)(?:\s+\((\d+) squashed migrations\))?`)
	// appLineRE is an app label on its own line in plain showmigrations.
	appLineRE = regexp.MustCompile(`^([A-Za-z_][\w]*)\s*$`)
)

// ParsePlan reads the output of `manage.py showmigrations --plan`: one
// "[X]  app.name" or "[ ]  app.name" line per migration, in the order
// migrate applies them. Other lines (warnings of the command that runs
// manage.py, "(no migrations)") are ignored; output without a single
// migration line is an error, since it means the command did not work.
func ParsePlan(out string) ([]State, error) {
	var states []State
	for _, line := range strings.Split(ansiRE.ReplaceAllString(out, ""), "\n") {
		m := planLineRE.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		states = append(states, State{Key: Key{App: m[2], Name: m[3]}, Applied: m[1] == "X"})
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("no migration in the output of showmigrations --plan (%s)", firstLine(out))
	}
	return states, nil
}

// ParseList reads the output of plain `manage.py showmigrations`: an app
// label on its own line, then " [X] name" lines (one leading space), a
// squashed migration marked "(N squashed migrations)", or " (no
// migrations)". The number of squashed migrations is kept in Replaces as
// that many unnamed keys, since the list does not name them.
func ParseList(out string) ([]State, error) {
	var states []State
	app := ""
	for _, line := range strings.Split(ansiRE.ReplaceAllString(out, ""), "\n") {
		line = strings.TrimRight(line, "\r")
		if m := listLineRE.FindStringSubmatch(line); m != nil {
			if app == "" {
				return nil, fmt.Errorf("showmigrations: migration line %q before any app label", strings.TrimSpace(line))
			}
			s := State{Key: Key{App: app, Name: m[2]}, Applied: m[1] == "X"}
			if m[3] != "" {
				n, _ := strconv.Atoi(m[3])
				s.Replaces = make([]Key, n)
			}
			states = append(states, s)
			continue
		}
		if m := appLineRE.FindStringSubmatch(line); m != nil {
			app = m[1]
		}
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("no migration in the output of showmigrations (%s)", firstLine(out))
	}
	return states, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "it printed nothing"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return "it printed: " + s
}
