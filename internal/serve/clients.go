package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"

	"steady/internal/session"
)

// Exit statuses a client's ssh command ends with, for scripts and for the
// person reading them; 0 is a responder who quit.
const (
	// exitEnded: the server ended the session (idle or maximum time).
	exitEnded = 1
	// exitUsage: steady needs an interactive terminal and no command.
	exitUsage = 2
	// exitTempFail: try again later (the session limit is reached, or the
	// server is stopping). EX_TEMPFAIL of sysexits.h.
	exitTempFail = 75
)

// client is one connected SSH session: who it is, its program, and how
// it is to end when the server ends it.
type client struct {
	actor   session.Actor
	log     *slog.Logger
	started time.Time

	mu      sync.Mutex
	program *tea.Program
	// model is the incident screen (tui.New), closed after the program.
	model tea.Model
	// goodbye is set when the server ends the session: the line the
	// client reads after its screen is gone, and the exit status.
	goodbye string
	status  int
	// width is the terminal's width, for wrapping the goodbye.
	width int
}

// setWidth records the terminal's width.
func (c *client) setWidth(w int) {
	c.mu.Lock()
	c.width = w
	c.mu.Unlock()
}

// end asks the client's program to quit, with the goodbye its user will
// read. The first reason given wins.
func (c *client) end(goodbye string, status int) {
	c.mu.Lock()
	if c.goodbye == "" {
		c.goodbye, c.status = goodbye, status
	}
	p := c.program
	c.mu.Unlock()
	if p != nil {
		// Quit waits for the program's loop; the program may not have
		// started yet, and it ends with the session, so never block here.
		go p.Quit()
	}
}

// setProgram records the client's program; one that starts after the
// client was ended is told to quit at once.
func (c *client) setProgram(p *tea.Program, m tea.Model) {
	c.mu.Lock()
	c.program, c.model = p, m
	ended := c.goodbye != ""
	c.mu.Unlock()
	if ended {
		go p.Quit()
	}
}

// send delivers a message to the client's program, if it runs.
func (c *client) send(msg tea.Msg) {
	c.mu.Lock()
	p := c.program
	c.mu.Unlock()
	if p != nil {
		go p.Send(msg)
	}
}

// ending returns the goodbye and exit status, if the server ended the
// session.
func (c *client) ending() (string, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goodbye, c.status, c.goodbye != ""
}

// wrapped returns text broken to fit the client's terminal.
func (c *client) wrapped(text string) string {
	c.mu.Lock()
	w := c.width
	c.mu.Unlock()
	return wrapText(text, w)
}

// wrapText breaks text at spaces into lines of at most width columns
// (80 when the width is unknown), so no word is split across lines.
func wrapText(text string, width int) string {
	if width <= 0 {
		width = 80
	}
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), "\n")
}

// errFull and errStopping refuse a session.
var (
	errFull     = errors.New("session limit reached")
	errStopping = errors.New("the server is stopping")
)

// clients are the connected sessions. Presence in the incident is per
// person (the session's Online is keyed by name): a responder joins with
// their first session and leaves with their last.
type clients struct {
	max int

	mu       sync.Mutex
	bySess   map[ssh.Session]*client
	nextID   int
	stopping string
	notice   string
	handlers sync.WaitGroup
	// emptied is closed when the last session leaves, once one has come.
	emptied    chan struct{}
	wasEmptied bool

	// presence serialises joins and leaves so a person's leave is never
	// journaled before their join.
	presence sync.Mutex
	online   map[string]int
}

func newClients(max int) *clients {
	return &clients{max: max, bySess: map[ssh.Session]*client{}, online: map[string]int{}, emptied: make(chan struct{})}
}

// add admits a session, unless the limit is reached or the server is
// stopping.
func (cs *clients) add(s ssh.Session, actor session.Actor, log *slog.Logger, now time.Time) (*client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.stopping != "" {
		return nil, errStopping
	}
	if len(cs.bySess) >= cs.max {
		return nil, fmt.Errorf("%w (%d of %d)", errFull, len(cs.bySess), cs.max)
	}
	cs.nextID++
	c := &client{actor: actor, log: log.With("client", cs.nextID), started: now}
	cs.bySess[s] = c
	cs.handlers.Add(1)
	return c, nil
}

// remove forgets a session whose handler is done.
func (cs *clients) remove(s ssh.Session) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.bySess[s]; ok {
		delete(cs.bySess, s)
		cs.handlers.Done()
	}
	if len(cs.bySess) == 0 && !cs.wasEmptied {
		cs.wasEmptied = true
		close(cs.emptied)
	}
}

// of returns the client of a session, or nil.
func (cs *clients) of(s ssh.Session) *client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.bySess[s]
}

// all returns the connected clients.
func (cs *clients) all() []*client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*client, 0, len(cs.bySess))
	for _, c := range cs.bySess {
		out = append(out, c)
	}
	return out
}

// count returns how many sessions are connected.
func (cs *clients) count() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.bySess)
}

// announce shows a notice on every screen, and on screens that connect
// later; "" takes it down.
func (cs *clients) announce(text string) {
	cs.mu.Lock()
	cs.notice = text
	cs.mu.Unlock()
	for _, c := range cs.all() {
		c.send(noticeMsg(text))
	}
}

// currentNotice is the notice a new screen starts with.
func (cs *clients) currentNotice() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.notice
}

// refuseNew turns every later session away with the goodbye.
func (cs *clients) refuseNew(goodbye string) {
	cs.mu.Lock()
	cs.stopping = goodbye
	cs.mu.Unlock()
}

// endAll ends every connected session with the goodbye.
func (cs *clients) endAll(goodbye string, status int) {
	for _, c := range cs.all() {
		c.end(goodbye, status)
	}
}

// stoppingReason returns the goodbye of a stopping server, or "".
func (cs *clients) stoppingReason() string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.stopping
}

// wait waits for every session handler to return, or the timeout.
func (cs *clients) wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { cs.handlers.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// arrive records a person's arrival in the incident with their first
// session.
func (cs *clients) arrive(s *session.Session, a session.Actor) error {
	cs.presence.Lock()
	defer cs.presence.Unlock()
	if cs.online[a.Name] == 0 {
		if err := s.Join(a); err != nil {
			return err
		}
	}
	cs.online[a.Name]++
	return nil
}

// depart records a person's leaving with their last session.
func (cs *clients) depart(s *session.Session, a session.Actor) error {
	cs.presence.Lock()
	defer cs.presence.Unlock()
	cs.online[a.Name]--
	if cs.online[a.Name] > 0 {
		return nil
	}
	delete(cs.online, a.Name)
	return s.Leave(a)
}
