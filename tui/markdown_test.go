package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

func TestSplitFences(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []mdChunk
	}{
		{"prose only", "Take a backup first.", []mdChunk{{text: "Take a backup first."}}},
		{"prose and a command", "Take a backup first.\n\n```sh\npg_dump --format=custom appdb\n```",
			[]mdChunk{{text: "Take a backup first."}, {code: true, text: "pg_dump --format=custom appdb"}}},
		{"a longer fence holds a shorter one", "````md\n```sh\nls\n```\n````\nafter",
			[]mdChunk{{code: true, text: "```sh\nls\n```"}, {text: "after"}}},
		{"tildes", "~~~\nSELECT 1;\n~~~", []mdChunk{{code: true, text: "SELECT 1;"}}},
		{"an unclosed fence runs to the end", "text\n```\nmanage.py migrate", []mdChunk{{text: "text"}, {code: true, text: "manage.py migrate"}}},
		{"a fence nested in a list stays with its list", "1. step\n\n   ```sh\n   ls\n   ```", []mdChunk{{text: "1. step\n\n   ```sh\n   ls\n   ```"}}},
		{"inline backticks open nothing", "```a` b", []mdChunk{{text: "```a` b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitFences(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("chunks %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("chunk %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// A runbook's manual command is wrapped as code: whole options, an
// indented continuation, never a line that reads as a command of its own.
func TestMarkdownWrapsCommandsAsCode(t *testing.T) {
	st := DefaultStyles(colorprofile.Ascii, true)
	md := newMarkdown(st.MarkdownStyle, st.Code)
	text := "Take a backup first, and verify it\n\n```sh\ndocker compose exec web python manage.py dumpdata --format=json > backup_before_migration.json\n```"
	got := ansi.Strip(md.render(text, 40))
	want := strings.Join([]string{
		"Take a backup first, and verify it",
		"",
		"  docker compose exec web python",
		"      manage.py dumpdata --format=json >",
		"      backup_before_migration.json",
	}, "\n")
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}
