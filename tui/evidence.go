package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"

	"steady/internal/plural"
	"steady/probes"
)

// evidence shows a probe's evidence table. Rows are converted once per
// probe run; the table renders only the rows around its cursor, so a
// table of ten thousand rows costs no more per frame than one of ten.
type evidence struct {
	c     *common
	run   string
	title string
	total int
	// omitted rows were left out of the journal by the session.
	omitted int
	natural []int // natural column widths, measured once
	tbl     table.Model
	w, h    int

	// The table's frame is kept until the table or its place changes.
	cacheKey evidenceKey
	cache    string
}

type evidenceKey struct {
	run          string
	cursor, w, h int
	focused      bool
	styles       *Styles
}

// maxMeasuredRows bounds how many rows are measured for column widths.
const maxMeasuredRows = 1000

func newEvidence(c *common) *evidence {
	t := table.New(table.WithStyles(c.styles.Table), table.WithKeyMap(tableKeys(c.keys)))
	return &evidence{c: c, tbl: t}
}

// tableKeys keeps the table to navigation keys, so the letters stay free
// for the checklist's commands.
func tableKeys(k *KeyMap) table.KeyMap {
	return table.KeyMap{
		LineUp:       k.Up,
		LineDown:     k.Down,
		PageUp:       k.PageUp,
		PageDown:     k.PageDown,
		HalfPageUp:   key.NewBinding(key.WithDisabled()),
		HalfPageDown: key.NewBinding(key.WithDisabled()),
		GotoTop:      k.Top,
		GotoBottom:   k.Bottom,
	}
}

// set shows the evidence of a probe run; it does nothing when that run is
// already shown.
func (e *evidence) set(run string, t probes.Table) {
	if run == e.run {
		return
	}
	e.run = run
	e.title, e.total, e.omitted = t.Title, len(t.Rows), t.Omitted
	n := len(t.Columns)
	if n == 0 && len(t.Rows) > 0 {
		n = len(t.Rows[0])
	}
	cols := make([]string, n)
	for i := range cols {
		if i < len(t.Columns) {
			cols[i] = t.Columns[i]
		} else {
			cols[i] = fmt.Sprintf("col %d", i+1)
		}
	}
	e.natural = make([]int, n)
	for i, c := range cols {
		e.natural[i] = visibleWidth(c)
	}
	rows := make([]table.Row, len(t.Rows))
	for i, r := range t.Rows {
		// The table indexes columns by cell: every row gets exactly n.
		row := make(table.Row, n)
		copy(row, r)
		rows[i] = row
		if i < maxMeasuredRows {
			for j := 0; j < n; j++ {
				e.natural[j] = max(e.natural[j], visibleWidth(row[j]))
			}
		}
	}
	e.tbl.SetRows(nil)
	e.tbl.SetColumns(e.columns(cols))
	e.tbl.SetRows(rows)
	e.tbl.SetCursor(0)
}

// columns fits the natural widths into the pane: every column gets up to
// 40 cells, and when they do not fit the widest give way first.
func (e *evidence) columns(titles []string) []table.Column {
	widths := make([]int, len(e.natural))
	for i, n := range e.natural {
		widths[i] = clamp(n, 1, 40)
	}
	avail := e.w - 2*len(widths) // the cells' padding
	for sum(widths) > avail {
		wi := 0
		for i := range widths {
			if widths[i] > widths[wi] {
				wi = i
			}
		}
		if widths[wi] <= 3 {
			break
		}
		widths[wi]--
	}
	cols := make([]table.Column, len(widths))
	for i := range widths {
		cols[i] = table.Column{Title: titles[i], Width: widths[i]}
	}
	return cols
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func (e *evidence) setSize(w, h int) {
	if w == e.w && h == e.h {
		return
	}
	e.w, e.h = w, h
	cols := e.tbl.Columns()
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.Title
	}
	e.tbl.SetColumns(e.columns(titles))
	e.tbl.SetWidth(w)
	e.tbl.SetHeight(max(h-1, 1))
}

func (e *evidence) restyle() {
	e.tbl.SetStyles(e.c.styles.Table)
}

func (e *evidence) focus(on bool) {
	if on {
		e.tbl.Focus()
	} else {
		e.tbl.Blur()
	}
}

func (e *evidence) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	e.tbl, cmd = e.tbl.Update(msg)
	return cmd
}

// View draws a title line and the table in h lines.
func (e *evidence) View(focused bool) string {
	if e.h <= 0 {
		return ""
	}
	title := "Evidence"
	if e.title != "" {
		title += ": " + e.title
	}
	count := " · " + plural.Count(e.total, "row", "rows")
	if e.omitted > 0 {
		count += fmt.Sprintf(" (+%d not kept)", e.omitted)
	}
	if e.total > 0 {
		count += fmt.Sprintf(" · row %d", e.tbl.Cursor()+1)
	}
	head := paneTitle(e.c.styles, title+count, focused, e.w)
	if e.h == 1 {
		return head
	}
	key := evidenceKey{e.run, e.tbl.Cursor(), e.w, e.h, focused, e.c.styles}
	if key != e.cacheKey {
		e.cacheKey, e.cache = key, e.tbl.View()
	}
	return head + "\n" + e.cache
}
