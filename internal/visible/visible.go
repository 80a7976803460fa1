// Package visible makes text that comes from outside steady safe to show:
// query texts, server and tool messages, key names, command output. Every
// control character and every character that reorders a line is written
// as a visible escape, so nothing a server says can retitle the terminal,
// clear the screen, move the cursor or fake a colour, on a terminal, over
// SSH, or in a Markdown report.
package visible

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text returns s with every C0 and C1 control character (escape, bell,
// carriage return, newline, tab...), DEL, every Unicode character that
// reorders or breaks a line (bidirectional overrides and isolates, the line
// and paragraph separators) and every byte that is not UTF-8 written as a
// visible escape: \e, \a, \r, \n, \t, \x7f, \u009b, \u202e, \xff. Text
// that holds none comes back unchanged, and applying Text twice gives what
// applying it once did (an escape is printable).
func Text(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r):
			b.WriteString(escape(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe returns the index of the first byte Text must change, or
// -1. Plain ASCII text, by far the commonest, is decided byte by byte.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafe(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafe reports whether r must not reach a terminal as it is.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f', r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// escape writes one unsafe character the way people read it.
func escape(r rune) string {
	switch r {
	case 0x1b:
		return `\e`
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	case '\v':
		return `\v`
	}
	if r < 0x80 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// Lines is Text for text whose newlines are its own (a message of several
// lines steady composed around what a server said): each line is made
// safe, and the newlines between them stay.
func Lines(s string) string {
	if firstUnsafe(s) < 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Text(l)
	}
	return strings.Join(lines, "\n")
}
