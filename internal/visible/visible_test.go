package visible

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"SELECT clinician_id FROM shift WHERE id = 7", "SELECT clinician_id FROM shift WHERE id = 7"},
		{"zoë · 7 → 8 — ok", "zoë · 7 → 8 — ok"},
		{"select 1 /* \x1b]0;pwned\x07 \x1b[2J \x1b[31mred\x1b[0m */", `select 1 /* \e]0;pwned\a \e[2J \e[31mred\e[0m */`},
		{"line one\nline two\r\n\ttab", `line one\nline two\r\n\ttab`},
		{"c1 csi \u009b2J and nel \u0085", `c1 csi \u009b2J and nel \u0085`},
		{"bidi \u202eevil\u202c and \u2066isolate\u2069", `bidi \u202eevil\u202c and \u2066isolate\u2069`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"nul \x00 del \x7f bs \b", `nul \x00 del \x7f bs \b`},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestLinesKeepsItsOwnNewlines(t *testing.T) {
	got := Lines("refused: \x1b[2Jgone\nGo on with: steady act backup --new")
	want := "refused: \\e[2Jgone\nGo on with: steady act backup --new"
	if got != want {
		t.Errorf("Lines: got %q, want %q", got, want)
	}
}

// FuzzText proves what every screen and report relies on: nothing unsafe
// is left, text without anything unsafe is unchanged, and a second pass
// changes nothing.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]0;t\x07\x1b[2J\x1b[31m", "\u009b31m", "\xff", "a\u202eb", "tab\there", `already \e escaped`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q is not UTF-8", s, out)
		}
		for _, r := range out {
			if unsafe(r) {
				t.Fatalf("Text(%q) = %q still holds %U", s, out, r)
			}
		}
		if again := Text(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
		clean := utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe)
		if clean != (out == s) {
			t.Fatalf("Text(%q) = %q: changed %v, but the input is clean: %v", s, out, out != s, clean)
		}
	})
}
