// Package mdterm renders Markdown (CommonMark with GitHub's tables, task
// lists and strikethrough, parsed by goldmark) as text for a terminal of a
// given width, styled with lipgloss: headings keep their #s, lists their
// bullets, code stays as written, prose is wrapped at spaces only (a path
// or a command never breaks at a hyphen or a dot).
//
// It exists because a steady starts in tens of milliseconds: glamour's
// syntax highlighter registers every lexer and style when the program
// starts (measured: 42 of the 49 ms of a start's package initialisation),
// and the runbooks steady renders need none of it.
package mdterm

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// Styles are how each kind of text looks; the zero value is plain text.
type Styles struct {
	Heading, Strong, Emph, Strike, Code, Link, Quote, Rule, TableHeader lipgloss.Style
}

// Options of one rendering.
type Options struct {
	Width  int
	Styles Styles
	// CodeBlock renders the body of a fenced or indented code block in
	// width cells; nil indents it by two and breaks a line only where it
	// is wider than the width.
	CodeBlock func(code string, width int) string
	// Wrap wraps styled prose to width cells; nil wraps at spaces.
	Wrap func(s string, width int) string
}

var parser = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList)).Parser()

// Render renders src.
func Render(src string, o Options) string {
	if o.Width < 10 {
		o.Width = 10
	}
	source := []byte(src)
	doc := parser.Parse(text.NewReader(source))
	if o.Wrap == nil {
		o.Wrap = wrap
	}
	r := &renderer{src: source, o: o}
	return strings.TrimRight(r.blocks(doc, o.Width), "\n ")
}

type renderer struct {
	src []byte
	o   Options
}

// blocks renders the block children of n, a blank line between each.
func (r *renderer) blocks(n ast.Node, width int) string {
	var parts []string
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if s := r.block(c, width); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n\n")
}

func (r *renderer) block(n ast.Node, width int) string {
	st := r.o.Styles
	switch n := n.(type) {
	case *ast.Heading:
		return r.o.Wrap(st.Heading.Render(strings.Repeat("#", n.Level)+" "+r.inlines(n)), width)
	case *ast.Paragraph, *ast.TextBlock:
		return r.o.Wrap(r.inlines(n), width)
	case *ast.List:
		return r.list(n, width)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		return r.code(lines(n, r.src), width)
	case *ast.Blockquote:
		inner := r.blocks(n, max(width-2, 8))
		var out []string
		for _, l := range strings.Split(inner, "\n") {
			out = append(out, st.Quote.Render("│ ")+l)
		}
		return strings.Join(out, "\n")
	case *ast.ThematicBreak:
		return st.Rule.Render(strings.Repeat("─", min(width, 40)))
	case *ast.HTMLBlock:
		return strings.TrimRight(lines(n, r.src), "\n")
	case *east.Table:
		return r.table(n, width)
	}
	if n.HasChildren() {
		return r.blocks(n, width)
	}
	return ""
}

// list renders each item with its marker, its other lines indented under
// the item's text.
func (r *renderer) list(l *ast.List, width int) string {
	var items []string
	number := l.Start
	if number == 0 {
		number = 1
	}
	loose := !l.IsTight
	for c := l.FirstChild(); c != nil; c = c.NextSibling() {
		marker := "• "
		if l.IsOrdered() {
			marker = fmt.Sprintf("%d. ", number)
			number++
		}
		if box := taskBox(c); box != "" {
			marker += box
		}
		pad := strings.Repeat(" ", ansi.StringWidth(marker))
		body := r.blocks(c, max(width-len(pad), 8))
		var out []string
		for i, line := range strings.Split(body, "\n") {
			switch {
			case i == 0:
				out = append(out, marker+line)
			case line == "":
				out = append(out, "")
			default:
				out = append(out, pad+line)
			}
		}
		items = append(items, strings.Join(out, "\n"))
	}
	sep := "\n"
	if loose {
		sep = "\n\n"
	}
	return strings.Join(items, sep)
}

// taskBox is "[ ] " or "[x] " for an item of a task list.
func taskBox(item ast.Node) string {
	if p := item.FirstChild(); p != nil {
		if b, ok := p.FirstChild().(*east.TaskCheckBox); ok {
			if b.IsChecked {
				return "[x] "
			}
			return "[ ] "
		}
	}
	return ""
}

func (r *renderer) code(body string, width int) string {
	body = strings.TrimRight(body, "\n")
	if r.o.CodeBlock != nil {
		return r.o.CodeBlock(body, width)
	}
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if l == "" {
			out = append(out, "")
			continue
		}
		for i, part := range strings.Split(ansi.Hardwrap(l, max(width-2, 8), true), "\n") {
			indent := "  "
			if i > 0 {
				indent = "      "
			}
			out = append(out, indent+r.o.Styles.Code.Render(part))
		}
	}
	return strings.Join(out, "\n")
}

// table renders aligned columns when they fit the width, else each row as
// "header: value" lines.
func (r *renderer) table(t *east.Table, width int) string {
	var rows [][]string
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			cells = append(cells, r.inlines(cell))
		}
		rows = append(rows, cells)
	}
	if len(rows) == 0 {
		return ""
	}
	cols := 0
	for _, row := range rows {
		cols = max(cols, len(row))
	}
	widths := make([]int, cols)
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], ansi.StringWidth(c))
		}
	}
	total := 0
	for _, w := range widths {
		total += w + 2
	}
	st := r.o.Styles
	if total-2 <= width {
		var out []string
		for i, row := range rows {
			var cells []string
			for j := range cols {
				c := ""
				if j < len(row) {
					c = row[j]
				}
				if i == 0 {
					c = st.TableHeader.Render(c)
				}
				cells = append(cells, c+strings.Repeat(" ", widths[j]-ansi.StringWidth(c)))
			}
			out = append(out, strings.TrimRight(strings.Join(cells, "  "), " "))
			if i == 0 {
				var rule []string
				for _, w := range widths {
					rule = append(rule, strings.Repeat("─", w))
				}
				out = append(out, st.Rule.Render(strings.Join(rule, "  ")))
			}
		}
		return strings.Join(out, "\n")
	}
	header := rows[0]
	var blocks []string
	for _, row := range rows[1:] {
		var lines []string
		for j, c := range row {
			label := ""
			if j < len(header) {
				label = st.TableHeader.Render(header[j]) + ": "
			}
			lines = append(lines, r.o.Wrap(label+c, width))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	return strings.Join(blocks, "\n\n")
}

// inlines renders the inline children of n as one styled string.
func (r *renderer) inlines(n ast.Node) string {
	var b strings.Builder
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(&b, c)
	}
	return b.String()
}

func (r *renderer) inline(b *strings.Builder, n ast.Node) {
	st := r.o.Styles
	switch n := n.(type) {
	case *ast.Text:
		b.Write(n.Segment.Value(r.src))
		switch {
		case n.HardLineBreak():
			b.WriteString("\n")
		case n.SoftLineBreak():
			b.WriteString(" ")
		}
	case *ast.String:
		b.Write(n.Value)
	case *ast.CodeSpan:
		var code strings.Builder
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				code.Write(t.Segment.Value(r.src))
			}
		}
		b.WriteString(st.Code.Render(code.String()))
	case *ast.Emphasis:
		s := st.Emph
		if n.Level >= 2 {
			s = st.Strong
		}
		b.WriteString(s.Render(r.inlines(n)))
	case *east.Strikethrough:
		b.WriteString(st.Strike.Render(r.inlines(n)))
	case *ast.Link:
		label := r.inlines(n)
		b.WriteString(st.Link.Render(label))
		if dest := string(n.Destination); dest != "" && dest != ansi.Strip(label) {
			b.WriteString(" (" + dest + ")")
		}
	case *ast.AutoLink:
		b.WriteString(st.Link.Render(string(n.URL(r.src))))
	case *ast.Image:
		b.WriteString(r.inlines(n))
	case *ast.RawHTML:
		for i := 0; i < n.Segments.Len(); i++ {
			s := n.Segments.At(i)
			b.Write(s.Value(r.src))
		}
	case *east.TaskCheckBox:
		// Said by the list's marker.
	default:
		b.WriteString(r.inlines(n))
	}
}

// lines returns the raw lines of a block.
func lines(n ast.Node, src []byte) string {
	var b strings.Builder
	l := n.Lines()
	for i := 0; i < l.Len(); i++ {
		s := l.At(i)
		b.Write(s.Value(src))
	}
	return b.String()
}

// wrap wraps styled text at spaces to width cells, breaking only a word
// longer than a line.
func wrap(s string, width int) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		out = append(out, wrapLine(para, width)...)
	}
	return strings.Join(out, "\n")
}

func wrapLine(s string, width int) []string {
	var lines []string
	line, w := "", 0
	for _, word := range strings.Split(s, " ") {
		ww := ansi.StringWidth(word)
		switch {
		case w > 0 && w+1+ww <= width:
			line, w = line+" "+word, w+1+ww
		case w > 0 || line != "":
			lines = append(lines, line)
			line, w = "", 0
			fallthrough
		default:
			for ww > width {
				lines = append(lines, ansi.Truncate(word, width, ""))
				word = ansi.TruncateLeft(word, width, "")
				ww = ansi.StringWidth(word)
			}
			line, w = word, ww
		}
	}
	return append(lines, line)
}
