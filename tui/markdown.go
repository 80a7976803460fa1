package tui

import (
	"strings"

	"charm.land/glamour/v2"
	gansi "charm.land/glamour/v2/ansi"
	"charm.land/glamour/v2/styles"
	"github.com/charmbracelet/x/ansi"
)

// markdown renders runbook Markdown with glamour for one client, caching
// every rendering by text and width: glamour is far too slow to run on
// each repaint, and an item's text never changes during an incident.
type markdown struct {
	style     string
	renderers map[int]*glamour.TermRenderer
	cache     map[mdKey]string
}

type mdKey struct {
	text  string
	width int
}

// maxMarkdownCache bounds the cache; a resize storm must not grow it
// without end.
const maxMarkdownCache = 512

func newMarkdown(style string) *markdown {
	return &markdown{style: style, renderers: map[int]*glamour.TermRenderer{}, cache: map[mdKey]string{}}
}

// render returns text rendered to fit width cells, or the text itself
// wrapped when glamour fails (the runbook stays readable either way).
func (m *markdown) render(text string, width int) string {
	width = max(width, 10)
	k := mdKey{text, width}
	if out, ok := m.cache[k]; ok {
		return out
	}
	out, err := m.renderer(width).Render(text)
	if err != nil {
		out = wrap(text, width)
	}
	out = tidy(out)
	if len(m.cache) >= maxMarkdownCache {
		m.cache = map[mdKey]string{}
	}
	m.cache[k] = out
	return out
}

func (m *markdown) renderer(width int) *glamour.TermRenderer {
	if r, ok := m.renderers[width]; ok {
		return r
	}
	cfg := styleConfig(m.style)
	r, err := glamour.NewTermRenderer(glamour.WithStyles(cfg), glamour.WithWordWrap(width))
	if err != nil {
		// Only a broken style config fails; fall back to the plainest.
		r, _ = glamour.NewTermRenderer(glamour.WithStyles(styles.NoTTYStyleConfig), glamour.WithWordWrap(width))
	}
	if len(m.renderers) > 16 {
		m.renderers = map[int]*glamour.TermRenderer{}
	}
	m.renderers[width] = r
	return r
}

// styleConfig returns a glamour style without its document margins: the
// pane already has its own.
func styleConfig(name string) gansi.StyleConfig {
	base, ok := styles.DefaultStyles[name]
	if !ok {
		base = &styles.NoTTYStyleConfig
	}
	cfg := *base
	zero := uint(0)
	cfg.Document.Margin = &zero
	cfg.Document.BlockPrefix = ""
	cfg.Document.BlockSuffix = ""
	return cfg
}

// tidy drops glamour's trailing padding and the blank lines around the
// document.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	for len(lines) > 0 && strings.TrimSpace(ansi.Strip(lines[0])) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(ansi.Strip(lines[len(lines)-1])) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}
