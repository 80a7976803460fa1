package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// A runbook's manual command is wrapped as code: whole options, an
// indented continuation, never a line that reads as a command of its own.
func TestMarkdownWrapsCommandsAsCode(t *testing.T) {
	st := DefaultStyles(colorprofile.Ascii, true)
	md := newMarkdown(st.Markdown, st.Code)
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
	// A command under a list item is code too, indented under its item.
	got = ansi.Strip(md.render("1. Back up\n\n   ```sh\n   pg_dump --format=custom --file=/backups/app.dump app\n   ```", 40))
	want = strings.Join([]string{
		"1. Back up",
		"",
		"     pg_dump --format=custom",
		"         --file=/backups/app.dump app",
	}, "\n")
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}
