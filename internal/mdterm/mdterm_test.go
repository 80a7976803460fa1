package mdterm

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name, in string
		width    int
		want     string
	}{
		{"headings keep their marks", "# Data inconsistency\n\n## Symptoms", 40, "# Data inconsistency\n\n## Symptoms"},
		{"prose wraps at spaces only", "Run steady-check --only=audit-concurrency against the replica first.", 30,
			"Run steady-check\n--only=audit-concurrency\nagainst the replica first."},
		{"inline code, emphasis, links", "Use `pg_dump`, **never** *guess*; see [the guide](https://example.org/g).", 80,
			"Use pg_dump, never guess; see the guide (https://example.org/g)."},
		{"a bulleted list, its long item indented", "- one\n- two is a longer item that wraps", 20,
			"• one\n• two is a longer\n  item that wraps"},
		{"an ordered list starts where it says", "3. third\n4. fourth", 20, "3. third\n4. fourth"},
		{"a task list", "- [ ] verify\n- [x] backed up", 30, "• [ ] verify\n• [x] backed up"},
		{"a table that fits", "| Id | Cause |\n| --- | --- |\n| race | Race condition |", 40,
			"Id    Cause\n────  ──────────────\nrace  Race condition"},
		{"a table too wide for the width", "| Id | Cause |\n| --- | --- |\n| race | Race condition in concurrent updates |", 22,
			"Id: race\nCause: Race condition\nin concurrent updates"},
		{"a code block is kept as written, a long line broken", "```\nSELECT 1;\n\nSELECT count(*) FROM config_shift;\n```", 20,
			"  SELECT 1;\n\n  SELECT count(*) FR\n      OM config_shift;"},
		{"a quote", "> careful", 20, "│ careful"},
		{"a rule", "a\n\n---\n\nb", 10, "a\n\n──────────\n\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(tt.in, Options{Width: tt.width}); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// Styles apply to their text only, and what is styled reads the same
// with the escapes taken out.
func TestRenderStyles(t *testing.T) {
	st := Styles{Code: lipgloss.NewStyle().Foreground(lipgloss.Color("6")), Strong: lipgloss.NewStyle().Bold(true)}
	in := "Run `manage.py migrate` **after** the backup."
	styled := Render(in, Options{Width: 80, Styles: st})
	if styled == ansi.Strip(styled) {
		t.Fatalf("no style applied: %q", styled)
	}
	if got, want := ansi.Strip(styled), Render(in, Options{Width: 80}); got != want {
		t.Errorf("styled text reads %q, plain %q", got, want)
	}
}

// The hooks: the caller's code renderer and wrapper are used.
func TestRenderHooks(t *testing.T) {
	got := Render("text\n\n```sh\nls -l\n```", Options{Width: 40,
		CodeBlock: func(code string, w int) string { return "[" + code + "]" },
		Wrap:      func(s string, w int) string { return strings.ToUpper(s) }})
	if got != "TEXT\n\n[ls -l]" {
		t.Errorf("got %q", got)
	}
}
