package tui

import (
	"strings"

	"charm.land/lipgloss/v2"

	"steady/internal/mdterm"
)

// markdown renders runbook Markdown (mdterm) for one client, caching
// every rendering by text and width: an item's text never changes during
// an incident, and a repaint must not parse it again.
//
// Code blocks (the manual equivalent commands) are wrapped as code: at
// spaces only, continuation lines indented deeper, so `pg_dump
// --format=custom` never turns into two lines that read as two commands.
type markdown struct {
	styles mdterm.Styles
	code   lipgloss.Style
	cache  map[mdKey]string
}

type mdKey struct {
	text  string
	width int
}

// maxMarkdownCache bounds the cache; a resize storm must not grow it
// without end.
const maxMarkdownCache = 512

func newMarkdown(styles mdterm.Styles, code lipgloss.Style) *markdown {
	return &markdown{styles: styles, code: code, cache: map[mdKey]string{}}
}

// render returns text rendered to fit width cells.
func (m *markdown) render(text string, width int) string {
	width = max(width, 10)
	k := mdKey{text, width}
	if out, ok := m.cache[k]; ok {
		return out
	}
	out := mdterm.Render(text, mdterm.Options{Width: width, Styles: m.styles, CodeBlock: m.codeBlock, Wrap: wrap})
	if len(m.cache) >= maxMarkdownCache {
		m.cache = map[mdKey]string{}
	}
	m.cache[k] = out
	return out
}

// codeBlock renders the lines of a fenced code block indented by two
// cells, each wrapped as code.
func (m *markdown) codeBlock(code string, width int) string {
	var lines []string
	for _, l := range codeLines(code, max(width-2, 8)) {
		if l == "" {
			lines = append(lines, "")
			continue
		}
		lines = append(lines, "  "+m.code.Render(l))
	}
	return strings.Join(lines, "\n")
}
