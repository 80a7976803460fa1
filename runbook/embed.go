package runbook

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed runbooks/*.md
var embedded embed.FS

// DefaultName is the runbook used when none is named.
const DefaultName = "data-inconsistency"

// Entry is a runbook that can be loaded: embedded, or a file in a directory.
type Entry struct {
	Name  string
	Title string
	// File is "embedded:NAME.md" or the file's path.
	File string
}

// Embedded returns the names of the built-in runbooks.
func Embedded() []string {
	ents, _ := fs.ReadDir(embedded, "runbooks")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".md"))
	}
	sort.Strings(names)
	return names
}

// EmbeddedSource returns the text of a built-in runbook.
func EmbeddedSource(name string) ([]byte, bool) {
	b, err := embedded.ReadFile("runbooks/" + name + ".md")
	return b, err == nil
}

// List returns the built-in runbooks and those in dir (when not empty),
// each with its title. A runbook in dir with the same name as a built-in
// one replaces it.
func List(dir string) ([]Entry, error) {
	byName := map[string]Entry{}
	for _, name := range Embedded() {
		src, _ := EmbeddedSource(name)
		r, _ := Parse("embedded:"+name+".md", src)
		byName[r.Name] = Entry{Name: r.Name, Title: r.Title(), File: "embedded:" + name + ".md"}
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.md"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("runbooks directory: %w", err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			r, _ := Parse(f, src)
			byName[r.Name] = Entry{Name: r.Name, Title: r.Title(), File: f}
		}
	}
	out := make([]Entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Read returns the source of a runbook named by a path to a file, a name in
// dir, or a built-in name, in that order, and the file name to report
// problems against.
func Read(ref, dir string) (file string, src []byte, err error) {
	if ref == "" {
		ref = DefaultName
	}
	if strings.ContainsAny(ref, `/\`) || strings.HasSuffix(ref, ".md") {
		if src, err := os.ReadFile(ref); err == nil {
			return ref, src, nil
		} else if !os.IsNotExist(err) || strings.ContainsAny(ref, `/\`) {
			return "", nil, fmt.Errorf("read runbook: %w", err)
		}
	}
	name := strings.TrimSuffix(ref, ".md")
	if dir != "" {
		entries, err := List(dir)
		if err != nil {
			return "", nil, err
		}
		for _, e := range entries {
			if e.Name == name && !strings.HasPrefix(e.File, "embedded:") {
				src, err := os.ReadFile(e.File)
				return e.File, src, err
			}
		}
	}
	if src, ok := EmbeddedSource(name); ok {
		return "embedded:" + name + ".md", src, nil
	}
	return "", nil, fmt.Errorf("no runbook %q: not a file, not in %s, and not built in (built in: %s)", ref, orNone(dir), strings.Join(Embedded(), ", "))
}

func orNone(dir string) string {
	if dir == "" {
		return "a --runbooks directory"
	}
	return dir
}

// Load reads and checks a runbook; any problem makes it an error, because
// an incident must not run on a broken runbook.
func Load(ref, dir string, k Known) (*Runbook, error) {
	file, src, err := Read(ref, dir)
	if err != nil {
		return nil, err
	}
	r, ps := Lint(file, src, k)
	if len(ps) > 0 {
		return nil, fmt.Errorf("runbook %s has problems:\n%w", file, ps)
	}
	return r, nil
}
