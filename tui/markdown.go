package tui

import (
	"strings"

	"charm.land/glamour/v2"
	gansi "charm.land/glamour/v2/ansi"
	"charm.land/glamour/v2/styles"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// markdown renders runbook Markdown with glamour for one client, caching
// every rendering by text and width: glamour is far too slow to run on
// each repaint, and an item's text never changes during an incident.
//
// The fenced code blocks of an item (the manual equivalent commands) are
// not glamour's: it wraps them like prose, at hyphens and dots, and
// without an indent, so `pg_dump --format=custom` could turn into two
// lines that read as two commands. They are wrapped as code here.
type markdown struct {
	style     string
	code      lipgloss.Style
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

func newMarkdown(style string, code lipgloss.Style) *markdown {
	return &markdown{style: style, code: code, renderers: map[int]*glamour.TermRenderer{}, cache: map[mdKey]string{}}
}

// render returns text rendered to fit width cells, or the text itself
// wrapped when glamour fails (the runbook stays readable either way).
func (m *markdown) render(text string, width int) string {
	width = max(width, 10)
	k := mdKey{text, width}
	if out, ok := m.cache[k]; ok {
		return out
	}
	var parts []string
	for _, ch := range splitFences(text) {
		if ch.code {
			parts = append(parts, m.codeBlock(ch.text, width))
			continue
		}
		out, err := m.renderer(width).Render(ch.text)
		if err != nil {
			out = wrap(ch.text, width)
		}
		if out = tidy(out); out != "" {
			parts = append(parts, out)
		}
	}
	out := strings.Join(parts, "\n\n")
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

// mdChunk is a run of Markdown prose, or the body of a fenced code block.
type mdChunk struct {
	code bool
	text string
}

// splitFences splits Markdown into prose and the fenced code blocks that
// start at its left margin. Fences nested deeper (in a list item) stay
// in the prose, for glamour to render with their list.
func splitFences(text string) []mdChunk {
	var (
		chunks []mdChunk
		prose  []string
		code   []string
		fence  string // the opening fence while inside a block
	)
	flushProse := func() {
		if p := strings.TrimSpace(strings.Join(prose, "\n")); p != "" {
			chunks = append(chunks, mdChunk{text: p})
		}
		prose = nil
	}
	for _, l := range strings.Split(text, "\n") {
		if fence != "" {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" && len(l)-len(strings.TrimLeft(l, " ")) < 4 {
				chunks = append(chunks, mdChunk{code: true, text: strings.Join(code, "\n")})
				fence, code = "", nil
				continue
			}
			code = append(code, l)
			continue
		}
		if f := openingFence(l); f != "" {
			flushProse()
			fence = f
			continue
		}
		prose = append(prose, l)
	}
	if fence != "" {
		// An unclosed fence runs to the end, as CommonMark has it.
		chunks = append(chunks, mdChunk{code: true, text: strings.Join(code, "\n")})
	}
	flushProse()
	return chunks
}

// openingFence returns the fence (``` or ~~~, three or more) that l opens
// at the left margin, or "".
func openingFence(l string) string {
	for _, c := range []string{"`", "~"} {
		n := len(l) - len(strings.TrimLeft(l, c))
		if n >= 3 && (c == "~" || !strings.Contains(l[n:], "`")) {
			return l[:n]
		}
	}
	return ""
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
