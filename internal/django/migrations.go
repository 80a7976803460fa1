// Package django knows what steady needs of a Django project without running
// Python: its migration files (with squashed `replaces` and `dependencies`),
// which of them a database has applied under Django's own rules, and the
// output of `manage.py showmigrations`.
package django

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// MigrateLockKey is the PostgreSQL advisory lock steady's migrate action
// holds while `manage.py migrate` runs, so a probe (or a second operator)
// can tell that a migration is in progress. It is "steady:m" in ASCII.
const MigrateLockKey int64 = 0x737465616479_3a6d

// Key names one migration: its app label and its name.
type Key struct {
	App  string
	Name string
}

// String returns "app.name", the form showmigrations --plan prints.
func (k Key) String() string { return k.App + "." + k.Name }

// ParseKey reads "app.name".
func ParseKey(s string) (Key, error) {
	app, name, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok || app == "" || name == "" {
		return Key{}, fmt.Errorf("%q is not a migration key (want app.name, e.g. config.0003_shift_constraints)", s)
	}
	return Key{App: app, Name: name}, nil
}

// Migration is one migration as its file declares it.
type Migration struct {
	Key
	// Path is the file it was read from; empty for migrations from an
	// expected list.
	Path string
	// Replaces lists the migrations a squashed migration stands for.
	Replaces []Key
	// Dependencies lists the migrations this one needs first. Entries that
	// are not literal tuples (swappable_dependency(...)) are left out.
	Dependencies []Key
}

// State is one migration as `showmigrations` would list it: squashed
// migrations resolved the way Django resolves them.
type State struct {
	Key
	Applied bool
	// Replaces is non-empty for a squashed migration shown in place of the
	// migrations it replaces.
	Replaces []Key
	// Recorded says whether its own row exists in django_migrations (a
	// squashed migration can be applied without it).
	Recorded bool
}

// Python string literal (single or double quoted) and tuples of two of them.
var (
	tupleRE  = regexp.MustCompile(`\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*,\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*,?\s*\)`)
	assignRE = func(name string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*([\[(])`)
	}
	replacesRE     = assignRE("replaces")
	dependenciesRE = assignRE("dependencies")
)

// ParseMigration reads the `replaces` and `dependencies` of a migration
// file's source. Both are Python lists (or tuples) of ("app", "name")
// tuples, possibly spread over many lines, with either quote style.
func ParseMigration(app, name string, src []byte) (Migration, error) {
	m := Migration{Key: Key{App: app, Name: name}}
	text := string(src)
	var err error
	if m.Replaces, err = keyList(text, replacesRE); err != nil {
		return m, fmt.Errorf("%s: replaces: %w", m.Key, err)
	}
	if m.Dependencies, err = keyList(text, dependenciesRE); err != nil {
		return m, fmt.Errorf("%s: dependencies: %w", m.Key, err)
	}
	return m, nil
}

// keyList finds the assignment re matches and returns the tuples of the
// bracketed list that follows it; no assignment means an empty list.
func keyList(text string, re *regexp.Regexp) ([]Key, error) {
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil {
		return nil, nil
	}
	open := loc[2]
	end, err := matchBracket(text, open)
	if err != nil {
		return nil, err
	}
	var keys []Key
	for _, m := range tupleRE.FindAllStringSubmatch(text[open+1:end], -1) {
		keys = append(keys, Key{App: m[1] + m[2], Name: m[3] + m[4]})
	}
	return keys, nil
}

// matchBracket returns the index of the bracket closing the one at open,
// skipping brackets inside string literals and comments.
func matchBracket(text string, open int) (int, error) {
	depth := 0
	for i := open; i < len(text); i++ {
		switch c := text[i]; c {
		case '[', '(', '{':
			depth++
		case ']', ')', '}':
			depth--
			if depth == 0 {
				return i, nil
			}
		case '\'', '"':
			j := i + 1
			for j < len(text) && text[j] != c {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		}
	}
	return 0, fmt.Errorf("the list opened at byte %d is never closed", open)
}

// Status resolves migrations against the rows recorded in django_migrations
// the way Django does, returning what showmigrations would list, per app in
// name order:
//
//   - a squashed migration is applied when its own row is recorded or when
//     every migration it replaces is recorded; it is then shown in place
//     of them, and so it is when none of them is recorded (it will be
//     applied as one);
//   - when only some of the replaced migrations are recorded, the squashed
//     one cannot be used and the replaced ones are shown individually;
//   - a replaced migration counts as applied when the squashed one is
//     recorded.
func Status(migrations []Migration, recorded []Key) []State {
	rec := map[Key]bool{}
	for _, k := range recorded {
		rec[k] = true
	}
	byKey := map[Key]Migration{}
	for _, m := range migrations {
		byKey[m.Key] = m
	}
	hidden := map[Key]bool{}   // replaced migrations shown through their squash
	unusable := map[Key]bool{} // squashed migrations Django drops
	appliedBy := map[Key]bool{}
	for _, m := range migrations {
		if len(m.Replaces) == 0 {
			continue
		}
		n := 0
		for _, r := range m.Replaces {
			if rec[r] {
				n++
			}
		}
		switch {
		case rec[m.Key] || n == len(m.Replaces) || n == 0:
			for _, r := range m.Replaces {
				hidden[r] = true
				if rec[m.Key] {
					appliedBy[r] = true
				}
			}
		default:
			unusable[m.Key] = true
		}
	}
	var out []State
	for _, m := range migrations {
		if hidden[m.Key] || unusable[m.Key] {
			continue
		}
		s := State{Key: m.Key, Replaces: m.Replaces, Recorded: rec[m.Key]}
		s.Applied = rec[m.Key] || appliedBy[m.Key]
		if len(m.Replaces) > 0 && !s.Applied {
			all := true
			for _, r := range m.Replaces {
				all = all && rec[r]
			}
			s.Applied = all
		}
		out = append(out, s)
	}
	sortStates(out, byKey)
	return out
}

// Unapplied returns the states that are not applied, in order.
func Unapplied(states []State) []State {
	var out []State
	for _, s := range states {
		if !s.Applied {
			out = append(out, s)
		}
	}
	return out
}

// StaleRows returns rows of django_migrations that no migration accounts
// for: the app has migrations here, but no file of that name exists and no
// squashed migration replaces it. Rows of apps without migrations here
// (Django's contrib apps live in site-packages) are not judged.
func StaleRows(migrations []Migration, recorded []Key) []Key {
	apps := map[string]bool{}
	known := map[Key]bool{}
	for _, m := range migrations {
		apps[m.App] = true
		known[m.Key] = true
		for _, r := range m.Replaces {
			known[r] = true
		}
	}
	var out []Key
	seen := map[Key]bool{}
	for _, k := range recorded {
		if apps[k.App] && !known[k] && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

// FromList builds migrations from an expected list (app → names, as in
// steady.yaml's django.migrations); it knows no replaces or dependencies.
func FromList(list map[string][]string) []Migration {
	var out []Migration
	for app, names := range list {
		for _, n := range names {
			out = append(out, Migration{Key: Key{App: app, Name: n}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i].Key, out[j].Key) })
	return out
}

func less(a, b Key) bool {
	if a.App != b.App {
		return a.App < b.App
	}
	return a.Name < b.Name
}

// sortStates orders states so that each comes after its dependencies where
// they are known (Kahn's algorithm), breaking ties by app and name; this is
// the order `migrate` would apply them in.
func sortStates(states []State, byKey map[Key]Migration) {
	sort.Slice(states, func(i, j int) bool { return less(states[i].Key, states[j].Key) })
	index := map[Key]int{}
	for i, s := range states {
		index[s.Key] = i
		// A dependency on a replaced migration is a dependency on its squash.
		for _, r := range s.Replaces {
			index[r] = i
		}
	}
	indeg := make([]int, len(states))
	next := make([][]int, len(states))
	for i, s := range states {
		deps := map[int]bool{}
		for _, d := range byKey[s.Key].Dependencies {
			if j, ok := index[d]; ok && j != i && !deps[j] {
				deps[j] = true
				next[j] = append(next[j], i)
				indeg[i]++
			}
		}
		// Within an app, names order the migrations even without explicit
		// dependencies (files are numbered).
		if i > 0 && states[i-1].App == s.App && !deps[i-1] {
			next[i-1] = append(next[i-1], i)
			indeg[i]++
		}
	}
	var order []int
	done := make([]bool, len(states))
	for len(order) < len(states) {
		picked := -1
		for i := range states {
			if !done[i] && indeg[i] == 0 {
				picked = i
				break
			}
		}
		if picked < 0 {
			// A cycle (or a dependency against name order): keep name
			// order for what is left rather than lose migrations.
			for i := range states {
				if !done[i] {
					done[i] = true
					order = append(order, i)
				}
			}
			break
		}
		done[picked] = true
		order = append(order, picked)
		for _, j := range next[picked] {
			indeg[j]--
		}
	}
	sorted := make([]State, len(states))
	for i, j := range order {
		sorted[i] = states[j]
	}
	copy(states, sorted)
}
