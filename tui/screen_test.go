package tui

import (
	"strings"
	"sync"

	"github.com/charmbracelet/x/ansi"
)

// screen is a small terminal emulator: enough of xterm to replay what
// Bubble Tea's renderer writes (cursor moves, erases, inserts, scroll
// regions), so a test can wait for text as the operator would see it
// rather than grep an escape-sequence stream that only carries the cells
// that changed.
type screen struct {
	mu     sync.Mutex
	w, h   int
	cells  [][]rune
	x, y   int
	top    int
	bottom int
	insert bool
	wrap   bool
	// pending is set after printing in the last column with autowrap on.
	pending bool
	last    rune
	saveX   int
	saveY   int
	p       *ansi.Parser
}

// blank marks the right half of a wide character.
const wideTail = rune(-1)

func newScreen(w, h int) *screen {
	s := &screen{w: w, h: h, wrap: true}
	s.reset()
	s.p = ansi.NewParser()
	s.p.SetHandler(ansi.Handler{
		Print:     s.print,
		Execute:   s.execute,
		HandleCsi: s.csi,
		HandleEsc: s.esc,
	})
	return s
}

func (s *screen) reset() {
	s.cells = make([][]rune, s.h)
	for i := range s.cells {
		s.cells[i] = s.blankRow()
	}
	s.x, s.y, s.top, s.bottom = 0, 0, 0, s.h-1
	s.insert, s.wrap, s.pending = false, true, false
}

func (s *screen) blankRow() []rune {
	r := make([]rune, s.w)
	for i := range r {
		r[i] = ' '
	}
	return r
}

// Write feeds terminal output to the screen.
func (s *screen) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.Parse(b)
	return len(b), nil
}

// String returns the screen's text, one line per row, without trailing
// spaces.
func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]string, s.h)
	for y, row := range s.cells {
		var b strings.Builder
		for _, r := range row {
			if r != wideTail {
				b.WriteRune(r)
			}
		}
		lines[y] = strings.TrimRight(b.String(), " ")
	}
	return strings.Join(lines, "\n")
}

func (s *screen) print(r rune) {
	w := ansi.StringWidth(string(r))
	if w == 0 {
		return // combining marks ride on the previous cell
	}
	if s.pending && s.wrap {
		s.x = 0
		s.lineFeed()
	}
	s.pending = false
	if s.x+w > s.w {
		if !s.wrap {
			s.x = s.w - w
		} else {
			s.x = 0
			s.lineFeed()
		}
	}
	if s.insert {
		s.insertChars(w)
	}
	row := s.cells[s.y]
	row[s.x] = r
	if w == 2 && s.x+1 < s.w {
		row[s.x+1] = wideTail
	}
	s.last = r
	if s.x+w >= s.w {
		s.x = s.w - 1
		s.pending = true
		return
	}
	s.x += w
}

func (s *screen) execute(b byte) {
	switch b {
	case '\r':
		s.x, s.pending = 0, false
	case '\n', '\v', '\f':
		// Bubble Tea expects the terminal to map NL to CR NL when its input
		// is not a TTY (as under teatest).
		s.x, s.pending = 0, false
		s.lineFeed()
	case '\b':
		if s.x > 0 {
			s.x--
		}
		s.pending = false
	case '\t':
		s.x = min((s.x/8+1)*8, s.w-1)
	}
}

func (s *screen) lineFeed() {
	if s.y == s.bottom {
		s.scrollUp(1)
		return
	}
	if s.y < s.h-1 {
		s.y++
	}
}

func (s *screen) scrollUp(n int) {
	for ; n > 0; n-- {
		copy(s.cells[s.top:s.bottom+1], s.cells[s.top+1:s.bottom+1])
		s.cells[s.bottom] = s.blankRow()
	}
}

func (s *screen) scrollDown(n int) {
	for ; n > 0; n-- {
		copy(s.cells[s.top+1:s.bottom+1], s.cells[s.top:s.bottom])
		s.cells[s.top] = s.blankRow()
	}
}

func (s *screen) insertChars(n int) {
	row := s.cells[s.y]
	copy(row[min(s.x+n, s.w):], row[s.x:])
	for i := s.x; i < min(s.x+n, s.w); i++ {
		row[i] = ' '
	}
}

func (s *screen) deleteChars(n int) {
	row := s.cells[s.y]
	n = min(n, s.w-s.x)
	copy(row[s.x:], row[s.x+n:])
	for i := s.w - n; i < s.w; i++ {
		row[i] = ' '
	}
}

func (s *screen) erase(y, from, to int) {
	if y < 0 || y >= s.h {
		return
	}
	for i := max(from, 0); i < min(to, s.w); i++ {
		s.cells[y][i] = ' '
	}
}

func (s *screen) csi(cmd ansi.Cmd, params ansi.Params) {
	n := func(i, def int) int {
		v, _, _ := params.Param(i, def)
		if v <= 0 {
			return def
		}
		return v
	}
	s.pending = false
	if cmd.Prefix() == '?' {
		if f := cmd.Final(); f == 'h' || f == 'l' {
			for i := range params {
				v, _, _ := params.Param(i, 0)
				switch v {
				case 7:
					s.wrap = f == 'h'
				case 1049, 47, 1047:
					// A fresh alternate screen.
					for y := range s.cells {
						s.cells[y] = s.blankRow()
					}
				}
			}
		}
		return
	}
	if cmd.Prefix() != 0 || cmd.Intermediate() != 0 {
		return
	}
	switch cmd.Final() {
	case 'A':
		s.y = max(s.y-n(0, 1), 0)
	case 'B':
		s.y = min(s.y+n(0, 1), s.h-1)
	case 'C':
		s.x = min(s.x+n(0, 1), s.w-1)
	case 'D':
		s.x = max(s.x-n(0, 1), 0)
	case 'E':
		s.x, s.y = 0, min(s.y+n(0, 1), s.h-1)
	case 'F':
		s.x, s.y = 0, max(s.y-n(0, 1), 0)
	case 'G', '`':
		s.x = clamp(n(0, 1)-1, 0, s.w-1)
	case 'H', 'f':
		s.y = clamp(n(0, 1)-1, 0, s.h-1)
		s.x = clamp(n(1, 1)-1, 0, s.w-1)
	case 'd':
		s.y = clamp(n(0, 1)-1, 0, s.h-1)
	case 'I':
		for i := 0; i < n(0, 1); i++ {
			s.x = min((s.x/8+1)*8, s.w-1)
		}
	case 'Z':
		for i := 0; i < n(0, 1); i++ {
			s.x = max((s.x-1)/8*8, 0)
		}
	case 'J':
		v, _, _ := params.Param(0, 0)
		switch v {
		case 0:
			s.erase(s.y, s.x, s.w)
			for y := s.y + 1; y < s.h; y++ {
				s.erase(y, 0, s.w)
			}
		case 1:
			s.erase(s.y, 0, s.x+1)
			for y := 0; y < s.y; y++ {
				s.erase(y, 0, s.w)
			}
		default:
			for y := 0; y < s.h; y++ {
				s.erase(y, 0, s.w)
			}
		}
	case 'K':
		v, _, _ := params.Param(0, 0)
		switch v {
		case 0:
			s.erase(s.y, s.x, s.w)
		case 1:
			s.erase(s.y, 0, s.x+1)
		default:
			s.erase(s.y, 0, s.w)
		}
	case 'X':
		s.erase(s.y, s.x, s.x+n(0, 1))
	case 'b':
		for i := 0; i < n(0, 1); i++ {
			s.print(s.last)
		}
	case '@':
		s.insertChars(n(0, 1))
	case 'P':
		s.deleteChars(n(0, 1))
	case 'L':
		if s.y >= s.top && s.y <= s.bottom {
			top := s.top
			s.top = s.y
			s.scrollDown(min(n(0, 1), s.bottom-s.y+1))
			s.top = top
		}
	case 'M':
		if s.y >= s.top && s.y <= s.bottom {
			top := s.top
			s.top = s.y
			s.scrollUp(min(n(0, 1), s.bottom-s.y+1))
			s.top = top
		}
	case 'S':
		s.scrollUp(n(0, 1))
	case 'T':
		s.scrollDown(n(0, 1))
	case 'r':
		s.top = clamp(n(0, 1)-1, 0, s.h-1)
		s.bottom = clamp(n(1, s.h)-1, s.top, s.h-1)
		s.x, s.y = 0, 0
	case 'h', 'l':
		for i := range params {
			if v, _, _ := params.Param(i, 0); v == 4 {
				s.insert = cmd.Final() == 'h'
			}
		}
	case 's':
		s.saveX, s.saveY = s.x, s.y
	case 'u':
		s.x, s.y = s.saveX, s.saveY
	}
}

func (s *screen) esc(cmd ansi.Cmd) {
	if cmd.Intermediate() != 0 {
		return
	}
	s.pending = false
	switch cmd.Final() {
	case 'M':
		if s.y == s.top {
			s.scrollDown(1)
		} else if s.y > 0 {
			s.y--
		}
	case 'D':
		s.lineFeed()
	case 'E':
		s.x = 0
		s.lineFeed()
	case '7':
		s.saveX, s.saveY = s.x, s.y
	case '8':
		s.x, s.y = s.saveX, s.saveY
	case 'c':
		s.reset()
	}
}
