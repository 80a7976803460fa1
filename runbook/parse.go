package runbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"gopkg.in/yaml.v3"
)

// BindingLang is the info string of a fenced block that binds an item to a
// probe or an action.
const BindingLang = "steady"

// sectionNames maps normalised level-2 headings to section kinds.
var sectionNames = map[string]SectionKind{
	"symptoms":          Symptoms,
	"detection":         Detection,
	"diagnosis":         Diagnosis,
	"diagnosis steps":   Diagnosis,
	"root causes":       RootCauses,
	"causes":            RootCauses,
	"resolution":        Resolution,
	"resolution steps":  Resolution,
	"verification":      Verification,
	"prevention":        Prevention,
	"escalation":        Escalation,
	"escalation policy": Escalation,
}

var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.TaskList),
	goldmark.WithParserOptions(parser.WithAttribute()),
)

// Parse reads a runbook. file names it in problems. It returns the runbook
// even when there are problems, so a linter can report all of them; a
// caller that runs incidents must refuse a runbook with problems.
func Parse(file string, src []byte) (*Runbook, Problems) {
	sum := sha256.Sum256(src)
	r := &Runbook{File: file, Source: src, Hash: hex.EncodeToString(sum[:])}
	p := &parse{file: file, src: src, r: r}
	p.lines = lineStarts(src)

	fm, fmLine, bodyStart, hasFM, closed := splitFrontMatter(src)
	if hasFM {
		if !closed {
			p.add(1, "front matter is not closed", "end it with a line of three dashes (---)")
		} else {
			p.problems = append(p.problems, parseFrontMatter(file, fm, fmLine, r)...)
		}
	}
	p.base = bodyStart
	p.body = src[bodyStart:]
	doc := md.Parser().Parse(text.NewReader(p.body))
	p.walk(doc)
	p.finish()

	r.Name = r.Meta.ID
	if r.Name == "" {
		base := filepath.Base(strings.TrimPrefix(file, "embedded:"))
		r.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	return r, p.problems
}

type parse struct {
	file     string
	src      []byte
	body     []byte
	base     int   // offset of body in src
	lines    []int // offsets of line starts in src
	r        *Runbook
	problems Problems

	section *Section
	skip    bool // inside an unknown section
	path    *Path
	intro   []string

	pathKeys map[*Path]string // heading text when no explicit id was given
}

func (p *parse) add(line int, msg, hint string) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: msg, Hint: hint})
}

func (p *parse) walk(doc ast.Node) {
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		switch n := n.(type) {
		case *ast.Heading:
			p.heading(n)
		case *ast.List:
			p.list(n)
		case *east.Table:
			if p.section != nil && p.section.Kind == RootCauses {
				p.causes(n)
			} else {
				p.keepIntro(n)
			}
		case *ast.FencedCodeBlock:
			if string(n.Language(p.body)) == BindingLang {
				p.add(p.lineOfNode(n), "a steady block must sit inside a list item", "indent it under the step it carries out")
				continue
			}
			p.keepIntro(n)
		default:
			p.keepIntro(n)
		}
	}
}

func (p *parse) heading(h *ast.Heading) {
	title := strings.TrimSpace(plainText(h, p.body))
	line := p.lineOfNode(h)
	switch h.Level {
	case 1:
		if p.r.Meta.Title == "" {
			p.r.Meta.Title = title
		}
	case 2:
		kind, ok := sectionNames[normalise(title)]
		if !ok {
			p.section, p.skip, p.path = nil, true, nil
			p.add(line, fmt.Sprintf("unknown section %q", title), "known sections: Symptoms, Detection, Diagnosis Steps, Root Causes, Resolution Steps, Verification, Prevention, Escalation")
			return
		}
		if prev := p.r.Section(kind); prev != nil {
			p.add(line, fmt.Sprintf("section %q appears twice (first at line %d)", title, prev.Line), "merge the two")
		}
		p.flushIntro()
		p.section = &Section{Kind: kind, Title: title, Line: line}
		p.r.Sections = append(p.r.Sections, p.section)
		p.skip, p.path = false, nil
	case 3:
		if p.section != nil && p.section.Kind == Resolution {
			p.flushIntro()
			path := &Path{Title: title, Line: line}
			if id, ok := h.AttributeString("id"); ok {
				if b, ok := id.([]byte); ok {
					path.Cause = string(b)
				}
			}
			if path.Cause == "" {
				if p.pathKeys == nil {
					p.pathKeys = map[*Path]string{}
				}
				p.pathKeys[path] = title
			}
			p.section.Paths = append(p.section.Paths, path)
			p.path = path
			return
		}
		p.keepIntro(h)
	default:
		p.keepIntro(h)
	}
}

// keepIntro records a block that is neither a heading nor a list as
// introductory Markdown of the current section (or of the runbook).
func (p *parse) keepIntro(n ast.Node) {
	if p.skip {
		return
	}
	if p.section != nil && len(p.section.Items) > 0 {
		// Text after a section's items (such as the "Expected: ..." lines of
		// the built-in runbook's Diagnosis Steps) belongs to the last item.
		last := p.section.Items[len(p.section.Items)-1]
		last.Markdown = strings.TrimSpace(last.Markdown + "\n\n" + p.rawBlock(n))
		return
	}
	p.intro = append(p.intro, p.rawBlock(n))
}

func (p *parse) flushIntro() {
	text := strings.TrimSpace(strings.Join(p.intro, "\n\n"))
	p.intro = nil
	if text == "" {
		return
	}
	if p.section == nil {
		p.r.Intro = text
		return
	}
	p.section.Intro = text
}

func (p *parse) finish() {
	p.flushIntro()
	if len(p.r.Sections) == 0 {
		p.add(1, "no sections found", "a runbook has level-2 sections such as ## Symptoms and ## Diagnosis Steps")
	}
	// Resolution paths named by heading text: match them to causes. With
	// no Root Causes section (missing, or under a heading steady does not
	// know, which is said once already) there is nothing to match them
	// to: one problem, not one per path.
	causes := p.r.Section(RootCauses) != nil
	if !causes && p.r.Section(Resolution) != nil && len(p.r.Section(Resolution).Paths) > 0 && !p.saidUnknownSection() {
		p.add(p.r.Section(Resolution).Line, "resolution paths for causes, but no Root Causes section to name them", "add ## Root Causes with a table of id | cause | likelihood | how to check | probe")
	}
	for _, s := range p.r.Sections {
		for _, path := range s.Paths {
			if !causes {
				continue
			}
			if title, byText := p.pathKeys[path]; byText {
				path.Cause = p.matchCause(title)
				if path.Cause == "" {
					p.add(path.Line, fmt.Sprintf("resolution %q is for no cause in the Root Causes table", title), "add {#cause-id} to the heading, e.g. ### For cache issues {#cache-invalidation}")
				}
			} else if p.r.Cause(path.Cause) == nil {
				p.add(path.Line, fmt.Sprintf("resolution for cause %q, which is not in the Root Causes table", path.Cause), "known causes: "+strings.Join(p.causeIDs(), ", "))
			}
			for _, it := range path.Items {
				it.Cause = path.Cause
			}
		}
	}
	p.assignIDs()
}

// saidUnknownSection reports whether a heading was already named as an
// unknown section.
func (p *parse) saidUnknownSection() bool {
	for _, pr := range p.problems {
		if strings.HasPrefix(pr.Msg, "unknown section") {
			return true
		}
	}
	return false
}

func (p *parse) causeIDs() []string {
	var ids []string
	for _, c := range p.r.Causes {
		ids = append(ids, c.ID)
	}
	return ids
}

// matchCause finds the cause a resolution heading such as "For Cache
// Issues" is about: by id, by title, or by a shared leading word.
func (p *parse) matchCause(title string) string {
	key := slug(strings.TrimPrefix(normalise(title), "for "))
	for _, c := range p.r.Causes {
		if c.ID == key || slug(c.Title) == key {
			return c.ID
		}
	}
	for _, c := range p.r.Causes {
		first := strings.SplitN(slug(c.Title), "-", 2)[0]
		if strings.HasPrefix(key, first) {
			return c.ID
		}
	}
	return ""
}

func (p *parse) list(l *ast.List) {
	if p.skip {
		return
	}
	if p.section == nil {
		p.add(p.lineOfNode(l), "list before the first section", "put it under a ## heading")
		return
	}
	if p.section.Kind == RootCauses {
		p.add(p.lineOfNode(l), "the Root Causes section takes a table, not a list", "| Cause | Likelihood | How to confirm | Probes |")
		return
	}
	if p.section.Kind == Resolution && p.path == nil {
		p.add(p.lineOfNode(l), "resolution steps must sit under a cause heading", "### For <cause> {#cause-id}")
		return
	}
	after := p.section.Line
	for li := l.FirstChild(); li != nil; li = li.NextSibling() {
		item := p.item(li)
		if sp := p.spanOf(li); sp.first == 0 {
			// An empty item has no text to take a line from.
			item.Line = p.emptyItemLine(after + 1)
		} else {
			after = sp.last
		}
		if item.Title == "" {
			p.add(item.Line, "empty checklist item", "")
		}
		item.Section = p.section.Kind
		p.section.Items = append(p.section.Items, item)
		if p.path != nil {
			item.Cause = p.path.Cause
			p.path.Items = append(p.path.Items, item)
		}
	}
}

func (p *parse) item(li ast.Node) *Item {
	it := &Item{Line: p.lineOfNode(li)}
	var parts []string
	first := true
	for c := li.FirstChild(); c != nil; c = c.NextSibling() {
		if first {
			first = false
			if c.Kind() == ast.KindParagraph || c.Kind() == ast.KindTextBlock {
				if cb, ok := c.FirstChild().(*east.TaskCheckBox); ok {
					it.Task, it.Checked = true, cb.IsChecked
				}
				it.Title = strings.TrimSpace(plainText(c, p.body))
				parts = append(parts, p.rawBlock(c))
				continue
			}
		}
		if fc, ok := c.(*ast.FencedCodeBlock); ok {
			lang := string(fc.Language(p.body))
			span := p.spanOf(fc)
			if lang == BindingLang {
				if it.Binding != nil {
					p.add(span.first, "a second steady block in one item", "split the step into two items, one binding each")
					continue
				}
				it.Binding = p.binding(fc)
				continue
			}
			it.Code = append(it.Code, CodeBlock{Lang: lang, Text: codeText(fc, p.body), Line: span.first})
		}
		parts = append(parts, p.rawBlock(c))
	}
	it.Markdown = strings.TrimSpace(strings.Join(parts, "\n\n"))
	// The title line keeps its checkbox in Markdown; drop it for display.
	it.Markdown = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(it.Markdown, "[ ]"), "[x]"))
	return it
}

func (p *parse) binding(fc *ast.FencedCodeBlock) *Binding {
	span := p.spanOf(fc)
	b := &Binding{Line: span.first, Params: map[string]string{}}
	body := codeText(fc, p.body)
	var raw yaml.Node
	if err := yaml.Unmarshal([]byte(body), &raw); err != nil {
		p.problems = append(p.problems, yamlProblems(p.file, span.first+1, err, "steady block")...)
		return b
	}
	if len(raw.Content) == 0 || raw.Content[0].Kind != yaml.MappingNode {
		p.add(span.first, "a steady block must be a YAML mapping", "probe: ID or action: ID, then parameters")
		return b
	}
	m := raw.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		line := span.first + k.Line
		if v.Kind != yaml.ScalarNode {
			p.add(line, fmt.Sprintf("parameter %q must be a single value", k.Value), "")
			continue
		}
		switch k.Value {
		case "probe":
			b.Probe = v.Value
		case "action":
			b.Action = v.Value
		case "id":
			b.Params["id"] = v.Value
		default:
			if _, dup := b.Params[k.Value]; dup {
				p.add(line, fmt.Sprintf("parameter %q given twice", k.Value), "")
			}
			b.Params[k.Value] = v.Value
		}
	}
	switch {
	case b.Probe != "" && b.Action != "":
		p.add(span.first, "a steady block binds either a probe or an action, not both", "split the step into two items")
	case b.Probe == "" && b.Action == "":
		p.add(span.first, "a steady block needs `probe: ID` or `action: ID`", "")
	}
	return b
}

// causes reads the Root Causes table.
func (p *parse) causes(t *east.Table) {
	line := p.lineOfNode(t)
	var cols map[string]int
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var cells []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, strings.TrimSpace(plainText(c, p.body)))
		}
		if _, ok := r.(*east.TableHeader); ok {
			if cols = p.causeColumns(line, cells); cols == nil {
				return
			}
			continue
		}
		p.cause(p.lineOfNode(r), cols, cells)
	}
}

// causeColumnNames are the Root Causes table's columns, by the headings
// that name them.
var causeColumnNames = map[string]string{
	"id":    "id",
	"cause": "cause", "root cause": "cause",
	"likelihood":     "likelihood",
	"how to confirm": "confirm", "confirm": "confirm", "how to confirm it": "confirm",
	"probes": "probes", "probe": "probes", "confirming probes": "probes",
}

// causeColumns reads the Root Causes table's heading: which column holds
// what. It is nil, the problem said, when there is no Cause column.
func (p *parse) causeColumns(line int, headings []string) map[string]int {
	cols := map[string]int{}
	for i, h := range headings {
		col, ok := causeColumnNames[normalise(h)]
		if !ok {
			p.add(line, fmt.Sprintf("unknown column %q in the Root Causes table", h), "columns: Id (optional), Cause, Likelihood, How to confirm, Probes")
			continue
		}
		cols[col] = i
	}
	if _, ok := cols["cause"]; !ok {
		p.add(line, "the Root Causes table has no Cause column", "")
		return nil
	}
	return cols
}

// cause reads one row of the Root Causes table.
func (p *parse) cause(rowLine int, cols map[string]int, cells []string) {
	get := func(col string) string {
		if i, ok := cols[col]; ok && i < len(cells) {
			return cells[i]
		}
		return ""
	}
	c := &Cause{Title: get("cause"), Likelihood: get("likelihood"), Confirm: get("confirm"), Line: rowLine}
	c.ID = get("id")
	if c.ID == "" {
		c.ID = slug(c.Title)
	}
	if c.Title == "" {
		p.add(rowLine, "root cause without a name", "")
		return
	}
	if !validID(c.ID) {
		p.add(rowLine, fmt.Sprintf("cause id %q has characters other than a-z, 0-9, - and _", c.ID), "")
	}
	if prev := p.r.Cause(c.ID); prev != nil {
		p.add(rowLine, fmt.Sprintf("duplicate cause id %q (also line %d)", c.ID, prev.Line), "")
	}
	if l := strings.ToLower(c.Likelihood); l != "" && l != "high" && l != "medium" && l != "low" {
		p.add(rowLine, fmt.Sprintf("likelihood %q", c.Likelihood), "High, Medium or Low")
	}
	c.Probes = append(c.Probes, strings.FieldsFunc(get("probes"), func(r rune) bool { return r == ',' || r == ' ' || r == '`' })...)
	p.r.Causes = append(p.r.Causes, c)
}

func (p *parse) assignIDs() {
	seen := map[string]*Item{}
	for _, s := range p.r.Sections {
		n := 0
		for _, path := range s.Paths {
			for i, it := range path.Items {
				it.ID = fmt.Sprintf("resolution-%s-%d", path.Cause, i+1)
			}
		}
		for _, it := range s.Items {
			n++
			if it.ID == "" {
				it.ID = fmt.Sprintf("%s-%d", s.Kind, n)
			}
			if it.Binding != nil {
				if id, ok := it.Binding.Params["id"]; ok {
					delete(it.Binding.Params, "id")
					if !validID(id) {
						p.add(it.Binding.Line, fmt.Sprintf("item id %q has characters other than a-z, 0-9, -, _ and .", id), "")
					} else {
						it.ID = id
					}
				}
			}
		}
	}
	// Report duplicates in file order, naming the first occurrence.
	items := p.r.Items()
	sort.SliceStable(items, func(i, j int) bool { return items[i].Line < items[j].Line })
	for _, it := range items {
		if prev, dup := seen[it.ID]; dup {
			p.add(it.Line, fmt.Sprintf("duplicate item id %q (also line %d)", it.ID, prev.Line), "give one of them another id: in its steady block")
			continue
		}
		seen[it.ID] = it
	}
}

var emptyItem = regexp.MustCompile(`^\s*(?:[-*+]|\d+[.)])(?:\s+\[[ xX]\])?\s*$`)

// emptyItemLine finds the first line from line on that is a bare list marker.
func (p *parse) emptyItemLine(line int) int {
	for l := max(line, 1); l <= len(p.lines); l++ {
		start, end := p.lines[l-1], len(p.src)
		if l < len(p.lines) {
			end = p.lines[l]
		}
		if emptyItem.Match(bytes.TrimRight(p.src[start:end], "\r\n")) {
			return l
		}
	}
	return max(line, 1)
}

// span is a range of 1-based file lines.
type span struct{ first, last int }

func (p *parse) lineOf(bodyOffset int) int {
	off := p.base + bodyOffset
	return sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off })
}

// spanOf returns the file lines a node covers, fences included; a node
// with no text of its own (a task checkbox) covers none: span{0, 0}.
func (p *parse) spanOf(n ast.Node) span {
	switch n := n.(type) {
	case *ast.FencedCodeBlock:
		var first int
		switch {
		case n.Info != nil:
			first = p.lineOf(n.Info.Segment.Start)
		case n.Lines().Len() > 0:
			first = p.lineOf(n.Lines().At(0).Start) - 1
		default:
			return span{}
		}
		last := first
		if n.Lines().Len() > 0 {
			last = p.lineOf(n.Lines().At(n.Lines().Len() - 1).Start)
		}
		// The closing fence, unless the block runs to the end of the file.
		if last+1 <= len(p.lines) {
			last++
		}
		return span{first, last}
	case *ast.Text:
		l := p.lineOf(n.Segment.Start)
		return span{l, l}
	}
	var s span
	merge := func(o span) {
		if o.first == 0 {
			return
		}
		if s.first == 0 || o.first < s.first {
			s.first = o.first
		}
		if o.last > s.last {
			s.last = o.last
		}
	}
	if n.Type() == ast.TypeBlock && n.Lines().Len() > 0 {
		merge(span{p.lineOf(n.Lines().At(0).Start), p.lineOf(n.Lines().At(n.Lines().Len() - 1).Start)})
	}
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		merge(p.spanOf(c))
	}
	return s
}

// lineOfNode is the first line of a node, or 1 when it has no text.
func (p *parse) lineOfNode(n ast.Node) int {
	if s := p.spanOf(n); s.first > 0 {
		return s.first
	}
	return 1
}

// rawBlock returns the source lines of a block, with the list marker of
// its first line and the common indentation removed.
func (p *parse) rawBlock(n ast.Node) string {
	s := p.spanOf(n)
	if s.first < 1 || s.last > len(p.lines) || s.first > s.last {
		return ""
	}
	var lines []string
	for l := s.first; l <= s.last; l++ {
		start := p.lines[l-1]
		end := len(p.src)
		if l < len(p.lines) {
			end = p.lines[l]
		}
		lines = append(lines, strings.TrimRight(string(p.src[start:end]), "\r\n"))
	}
	if len(lines) > 0 {
		lines[0] = listMarker.ReplaceAllString(lines[0], "$1")
	}
	return dedent(lines)
}

var listMarker = regexp.MustCompile(`^(\s*)(?:[-*+]|\d+[.)])\s+`)

func dedent(lines []string) string {
	min := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "" || (i == 0 && len(lines) > 1) {
			continue
		}
		ind := len(l) - len(strings.TrimLeft(l, " \t"))
		if min < 0 || ind < min {
			min = ind
		}
	}
	for i, l := range lines {
		if i == 0 {
			lines[i] = strings.TrimLeft(l, " \t")
			continue
		}
		switch {
		case min <= 0:
		case len(l) >= min && strings.TrimSpace(l[:min]) == "":
			lines[i] = l[min:]
		default:
			lines[i] = strings.TrimLeft(l, " \t")
		}
	}
	return strings.Join(lines, "\n")
}

func codeText(fc *ast.FencedCodeBlock, src []byte) string {
	var b bytes.Buffer
	for i := 0; i < fc.Lines().Len(); i++ {
		seg := fc.Lines().At(i)
		b.Write(seg.Value(src))
	}
	return b.String()
}

// plainText returns the text of a node's inline content.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	var visit func(ast.Node)
	visit = func(n ast.Node) {
		switch n := n.(type) {
		case *ast.Text:
			b.Write(n.Segment.Value(src))
			if n.SoftLineBreak() || n.HardLineBreak() {
				b.WriteByte(' ')
			}
			return
		case *ast.String:
			b.Write(n.Value)
			return
		case *east.TaskCheckBox:
			return
		case *ast.CodeSpan:
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					b.Write(t.Segment.Value(src))
				}
			}
			return
		case *ast.AutoLink:
			b.Write(n.URL(src))
			return
		}
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			visit(c)
		}
	}
	visit(n)
	return b.String()
}

func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func normalise(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(strings.TrimSpace(s))), " ")
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

func validID(s string) bool { return idPattern.MatchString(s) }
