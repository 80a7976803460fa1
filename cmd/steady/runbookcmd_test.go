package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"steady/runbook"
)

// TestRunbookShowMarkdownRoundTrips: `runbook show --markdown` prints a
// runbook that lints clean and binds every step as the built-in one does
// (front matter, steady blocks and all), so a team can start their own
// from it.
func TestRunbookShowMarkdownRoundTrips(t *testing.T) {
	dir := t.TempDir()
	r := runSteady(t, dir, nil, "runbook", "show", "--markdown")
	if r.code != 0 {
		t.Fatalf("show --markdown: exit %d\n%s", r.code, r.stderr)
	}
	path := filepath.Join(dir, "copy.md")
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if l := runSteady(t, dir, nil, "runbook", "lint", path); l.code != 0 || !strings.Contains(l.stdout, ": ok") {
		t.Fatalf("the copy does not lint: exit %d\n%s%s", l.code, l.stdout, l.stderr)
	}
	embedded, err := runbook.Load("", "", known())
	if err != nil {
		t.Fatal(err)
	}
	copied, err := runbook.Load(path, "", known())
	if err != nil {
		t.Fatal(err)
	}
	a, b := embedded.Items(), copied.Items()
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("the copy's items or bindings differ from the built-in runbook's")
	}
	if !reflect.DeepEqual(embedded.Meta, copied.Meta) || !reflect.DeepEqual(embedded.Causes, copied.Causes) {
		t.Errorf("front matter or causes differ:\n%+v\n%+v", embedded.Meta, copied.Meta)
	}
}

// The rendered runbook sets each step's binding apart from the step's
// text, on a line of its own: "▶ probe connectivity", never
// "…evidence▶ probe connectivity".
func TestRunbookShowSetsBindingsApart(t *testing.T) {
	r := runSteady(t, "", nil, "runbook", "show")
	if r.code != 0 {
		t.Fatalf("show: exit %d\n%s", r.code, r.stderr)
	}
	n := 0
	for _, line := range strings.Split(r.stdout, "\n") {
		if !strings.Contains(line, "▶") {
			continue
		}
		n++
		if !strings.HasPrefix(strings.TrimSpace(line), "▶ probe ") && !strings.HasPrefix(strings.TrimSpace(line), "▶ action ") {
			t.Errorf("a binding runs into other text: %q", line)
		}
	}
	if n == 0 {
		t.Errorf("no binding rendered:\n%s", r.stdout)
	}
}
