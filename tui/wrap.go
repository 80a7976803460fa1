package tui

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Wrapping. All the text the TUI lays out itself (everything but the
// Markdown prose glamour renders) is wrapped here, at spaces only: a
// command, a SQL statement or a path broken at a hyphen reads as
// something else ("--" and "file=…" on separate lines), so a token is
// broken only when it is wider than the line on its own. Commands carry
// a deeper indent on their continuation lines, so nobody mistakes the
// rest of one command for the next.

// codeContinuation is how much deeper than its first line a wrapped
// command, SQL statement or output line continues.
const codeContinuation = 4

// wrap word-wraps plain or styled text to w cells, breaking at spaces
// only. Each line keeps its own leading indent on its continuation lines.
func wrap(s string, w int) string {
	return strings.Join(wrapLines(s, w, 0), "\n")
}

// codeLines wraps a command, a SQL statement or a line of output to w
// cells like wrap, and indents its continuation lines codeContinuation
// cells deeper than the line they continue.
func codeLines(s string, w int) []string {
	return wrapLines(s, w, codeContinuation)
}

// wrapLines wraps each line of s to w cells; continuation lines are
// indented by the line's own leading indent plus cont. Styles are kept,
// and kept to their line: each output line carries the escape sequences
// that precede it and those that follow it, so it starts in the style it
// had and closes whatever it opened, and no style bleeds into what is
// drawn beside it.
func wrapLines(s string, w, cont int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		l := scan(line)
		for _, sp := range breakLine(l.graphemes, w, cont) {
			out = append(out, pad(sp.indent)+l.cut(sp))
		}
	}
	return out
}

// scanned is one line taken apart: its pieces (each escape sequence or
// other control, and each grapheme of its text), which of them are
// escapes, and its graphemes.
type scanned struct {
	text      string
	pieces    []piece
	escapes   []int
	graphemes []grapheme
}

// piece is bytes [start, end) of a line.
type piece struct{ start, end int }

// grapheme is one user-perceived character of a line: its piece, where
// it is drawn, and how wide.
type grapheme struct {
	piece       int
	cell, width int
	space       bool
}

func scan(line string) *scanned {
	l := &scanned{text: line}
	var (
		state byte
		cell  int
	)
	for i := 0; i < len(line); {
		seq, width, n, next := ansi.DecodeSequence(line[i:], state, nil)
		if n <= 0 {
			n = 1
		}
		state = next
		r, size := utf8.DecodeRuneInString(seq)
		// A space carrying a combining mark shows the mark: it is text.
		space := (r == ' ' || r == '\t' || unicode.IsSpace(r) && r != '\u00a0') && len(seq) == size
		escape := width == 0 && !space && (seq[0] == '\x1b' || unicode.IsControl(r) || r == utf8.RuneError && size <= 1)
		l.pieces = append(l.pieces, piece{start: i, end: i + n})
		if escape {
			l.escapes = append(l.escapes, len(l.pieces)-1)
		} else {
			l.graphemes = append(l.graphemes, grapheme{piece: len(l.pieces) - 1, cell: cell, width: width, space: space})
			cell += width
		}
		i += n
	}
	return l
}

// cut returns the text of span sp: the pieces from its first grapheme to
// its last, after every escape sequence before them and followed by every
// one after.
func (l *scanned) cut(sp span) string {
	if sp.from >= sp.to {
		return ""
	}
	first, last := l.graphemes[sp.from].piece, l.graphemes[sp.to-1].piece
	body := l.text[l.pieces[first].start:l.pieces[last].end]
	if len(l.escapes) == 0 {
		return body // plain text: the common case
	}
	var b strings.Builder
	i := 0
	for ; i < len(l.escapes) && l.escapes[i] < first; i++ {
		b.WriteString(l.text[l.pieces[l.escapes[i]].start:l.pieces[l.escapes[i]].end])
	}
	b.WriteString(body)
	for ; i < len(l.escapes); i++ {
		if e := l.escapes[i]; e > last {
			b.WriteString(l.text[l.pieces[e].start:l.pieces[e].end])
		}
	}
	return b.String()
}

// span is one output line: graphemes [from, to) of the source line,
// placed after indent cells.
type span struct {
	from, to, indent int
}

// breakLine lays out one source line greedily: as many whole words as
// fit on each line, the spaces at a break dropped; a word wider than a
// whole line is cut where the line ends.
func breakLine(gs []grapheme, w, cont int) []span {
	lead := 0
	for lead < len(gs) && gs[lead].space {
		lead++
	}
	if lead == len(gs) {
		return []span{{}} // an empty or blank line stays one empty line
	}
	leadW := gs[lead].cell
	contIndent := leadW + cont
	if w-contIndent < max(w/2, 1) {
		// A narrow pane: keep at least half the line for the text.
		contIndent = min(cont, max(w-max(w/2, 1), 0))
	}
	var (
		spans  []span
		start  = 0 // the first line keeps its leading indent
		end    = 0
		indent = 0
		avail  = w
		filled = false // the current line holds at least one word
	)
	width := func(from, to int) int { return gs[to-1].cell + gs[to-1].width - gs[from].cell }
	newLine := func(at int) {
		spans = append(spans, span{start, end, indent})
		start, end, filled = at, at, false
		indent, avail = contIndent, w-contIndent
	}
	for i := lead; i < len(gs); {
		j := i
		for j < len(gs) && !gs[j].space {
			j++
		}
		// gs[i:j] is a word.
		if filled && width(start, j) > avail {
			newLine(i)
		}
		if !filled && start < i && width(start, j) > avail {
			// The leading indent and the first word do not fit together:
			// the word goes first.
			start = i
		}
		for width(start, j) > avail {
			// Wider than a whole line: cut it where the line ends.
			k := start + 1
			for k < j && width(start, k+1) <= avail {
				k++
			}
			if width(start, k) > avail {
				// One grapheme wider than the line: it stands alone,
				// without an indent.
				indent = 0
			}
			if k == j {
				break
			}
			end = k
			newLine(k)
		}
		end, filled = j, true
		for j < len(gs) && gs[j].space {
			j++
		}
		i = j
	}
	spans = append(spans, span{start, end, indent})
	return spans
}
