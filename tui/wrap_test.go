package tui

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name string
		in   string
		w    int
		code bool
		want []string
	}{
		{"prose breaks at spaces", "the read-only probes never write", 14, false,
			[]string{"the read-only", "probes never", "write"}},
		{"prose never breaks at a hyphen", "a well-known side-effect", 12, false,
			[]string{"a well-known", "side-effect"}},
		{"a word wider than the line is cut", "see /var/lib/postgresql/15/main now", 12, false,
			[]string{"see", "/var/lib/pos", "tgresql/15/m", "ain now"}},
		{"a word exactly the width stays whole", "abcdef ghijkl", 6, false,
			[]string{"abcdef", "ghijkl"}},
		{"spaces inside a line are kept, at a break dropped", "a  b   c", 4, false,
			[]string{"a  b", "c"}},
		{"a line's own indent hangs", "  probe migrations: FAIL 1 unapplied", 20, false,
			[]string{"  probe migrations:", "  FAIL 1 unapplied"}},
		{"lines and blank lines are kept", "one two\n\nthree", 5, false,
			[]string{"one", "two", "", "three"}},
		{"nothing to wrap", "", 10, false, []string{""}},
		{"a command continues deeper, whole options together",
			"pg_dump --format=custom --no-password --file=/srv/backups/appdb.dump appdb", 28, true,
			[]string{"pg_dump --format=custom", "    --no-password", "    --file=/srv/backups/appd", "    b.dump appdb"}},
		{"a quoted option is never split at its dashes", "pg_restore '--dbname=postgres://app@db/app' --list", 40, true,
			[]string{"pg_restore", "    '--dbname=postgres://app@db/app'", "    --list"}},
		{"SQL continues deeper than its own indent", "  SELECT pg_try_advisory_lock(4242) FROM x", 24, true,
			[]string{"  SELECT", "      pg_try_advisory_lo", "      ck(4242) FROM x"}},
		{"a narrow pane keeps half the line for the text", "abc defgh ijk", 6, true,
			[]string{"abc", "   def", "   gh", "   ijk"}},
		{"wide characters count two cells", "日本語のテキスト ok", 6, false,
			[]string{"日本語", "のテキ", "スト", "ok"}},
		{"a character wider than the line stands alone", "a 日本", 1, false,
			[]string{"a", "日", "本"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wrap(tt.in, tt.w)
			if tt.code {
				got = strings.Join(codeLines(tt.in, tt.w), "\n")
			}
			lines := strings.Split(got, "\n")
			if strings.Join(lines, "|") != strings.Join(tt.want, "|") {
				t.Errorf("wrap(%q, %d):\n got %q\nwant %q", tt.in, tt.w, lines, tt.want)
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > max(tt.w, 2) {
					t.Errorf("line %q is wider than %d", l, tt.w)
				}
			}
		})
	}
	if got := wrap("anything", 0); got != "" {
		t.Errorf("wrap to no width = %q, want nothing", got)
	}
}

// A styled command keeps its style on every line it wraps to, and no line
// leaves a style open for whatever is drawn after it.
func TestWrapKeepsStylesPerLine(t *testing.T) {
	const cyan, reset = "\x1b[36m", "\x1b[m"
	in := "$ " + cyan + "pg_restore --list /srv/backups/appdb.dump" + reset
	lines := wrapLines(in, 20, codeContinuation)
	want := []string{"$ pg_restore --list", "    /srv/backups/app", "    db.dump"}
	for i, l := range lines {
		if i >= len(want) || ansi.Strip(l) != want[i] {
			t.Fatalf("lines %q, want %q", lines, want)
		}
		if i > 0 && !strings.Contains(l, cyan) {
			t.Errorf("line %d lost its style: %q", i, l)
		}
		if !strings.HasSuffix(l, reset) {
			t.Errorf("line %d leaves its style open: %q", i, l)
		}
	}
}

// Whatever the text and width, wrapping loses nothing but the spaces at
// its breaks, and no line is wider than asked (but for a lone character
// wider than the whole line); styled or not.
func FuzzWrap(f *testing.F) {
	f.Add("pg_dump --format=custom --file=/srv/backups/appdb.dump appdb", 12, 3, true)
	f.Add("  SELECT 1;\n\n日本語 cyan text", 5, 0, false)
	f.Add("a  b   c", 1, 1, true)
	f.Fuzz(func(t *testing.T, s string, w, styleAt int, code bool) {
		if w < 1 || w > 200 || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool {
			return unicode.IsControl(r) && r != '\n' || r == '\u2028' || r == '\u2029'
		}) >= 0 {
			return
		}
		cont := 0
		if code {
			cont = codeContinuation
		}
		// The same text plain, and with a style from a rune boundary on.
		styled := s
		if i := styleAt; i >= 0 && i <= len(s) && (i == len(s) || utf8.RuneStart(s[i])) {
			styled = s[:i] + "\x1b[36m" + s[i:] + "\x1b[m"
		}
		want := strings.Join(strings.Fields(s), "")
		for _, in := range []string{s, styled} {
			lines := wrapLines(in, w, cont)
			var got []string
			for _, l := range lines {
				if lw := ansi.StringWidth(l); lw > max(w, 2) {
					t.Errorf("line %q is %d cells wide, want at most %d", l, lw, w)
				}
				got = append(got, strings.Fields(ansi.Strip(l))...)
			}
			if strings.Join(got, "") != want {
				t.Errorf("wrapping %q to %d lost text: %q", in, w, lines)
			}
		}
	})
}
