package serve

import (
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// noticeMsg puts a server notice above the incident screen ("" takes it
// down): what every responder must see whatever they are looking at, such
// as a stop that waits for a destructive action.
type noticeMsg string

// idleCheckMsg is the periodic look at how long the keyboard was idle.
type idleCheckMsg struct{}

// screen wraps one client's incident screen (tui.New) with what belongs
// to the server: the notice line, the idle clock, and the resize log.
// Everything else passes through untouched.
type screen struct {
	inner tea.Model
	c     *client

	width, height int
	notice        string
	idle          time.Duration
	checkEvery    time.Duration
	lastInput     time.Time
}

func newScreen(inner tea.Model, c *client, notice string, idle time.Duration) *screen {
	// Check often enough that the idle limit is kept to within a quarter
	// of itself, and not so often that an idle screen costs anything.
	every := min(max(idle/4, 50*time.Millisecond), 30*time.Second)
	// The idle clock is real time, whatever clock the screen displays.
	return &screen{inner: inner, c: c, notice: notice, idle: idle, checkEvery: every, lastInput: time.Now()}
}

// Init starts the incident screen and the idle clock.
func (m *screen) Init() tea.Cmd {
	return tea.Batch(m.inner.Init(), m.idleCheck())
}

func (m *screen) idleCheck() tea.Cmd {
	return tea.Tick(m.checkEvery, func(time.Time) tea.Msg { return idleCheckMsg{} })
}

// Update handles the server's messages and passes the rest on.
func (m *screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if msg.Width != m.width || msg.Height != m.height {
			m.c.log.Debug("window resized", "cols", msg.Width, "rows", msg.Height)
		}
		m.width, m.height = msg.Width, msg.Height
		m.c.setWidth(msg.Width)
		return m.pass(m.innerSize())
	case noticeMsg:
		had := m.notice != ""
		m.notice = string(msg)
		if had == (m.notice != "") || m.width == 0 {
			return m, nil
		}
		// The screen below loses (or regains) the notice's line.
		return m.pass(m.innerSize())
	case idleCheckMsg:
		if quiet := time.Since(m.lastInput); quiet >= m.idle {
			m.c.end("steady: you were idle for "+quiet.Round(time.Second).String()+", so the server ended your session (the incident goes on: reconnect to rejoin it).", exitEnded)
			return m, tea.Quit
		}
		return m, m.idleCheck()
	case tea.KeyPressMsg, tea.MouseMsg, tea.PasteMsg:
		m.lastInput = time.Now()
	}
	return m.pass(msg)
}

func (m *screen) pass(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	m.inner, cmd = m.inner.Update(msg)
	return m, cmd
}

// innerSize is the size the incident screen gets: the window less the
// notice line.
func (m *screen) innerSize() tea.WindowSizeMsg {
	h := m.height
	if m.notice != "" && h > 1 {
		h--
	}
	return tea.WindowSizeMsg{Width: m.width, Height: h}
}

// View draws the notice, if any, above the incident screen.
func (m *screen) View() tea.View {
	v := m.inner.View()
	if m.notice == "" || m.width <= 0 {
		return v
	}
	// Reverse video reads as a banner on every colour profile, and needs
	// no style shared between clients.
	banner := lipgloss.NewStyle().Reverse(true).Bold(true).Width(m.width).MaxWidth(m.width).MaxHeight(1).Render(m.notice)
	v.Content = banner + "\n" + v.Content
	if v.Cursor != nil {
		cur := *v.Cursor
		cur.Y++
		v.Cursor = &cur
	}
	return v
}
