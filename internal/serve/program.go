package serve

import (
	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"

	"steady/tui"
)

// programs is the middleware that gives each admitted session its own
// Bubble Tea program: a fresh incident screen (tui.New builds its styles
// and keys from what this client's terminal reports), bound to the one
// shared incident session, reading and writing this SSH session.
func (srv *Server) programs() wish.Middleware {
	return bm.MiddlewareWithProgramHandler(srv.newProgram)
}

// newProgram is the program factory. It returns nil for a session that
// has no screen to get (not admitted, or ended before it started), and
// the middleware then passes it on without one.
func (srv *Server) newProgram(s ssh.Session) *tea.Program {
	c := srv.clients.of(s)
	if c == nil {
		return nil
	}
	if _, _, ended := c.ending(); ended {
		return nil
	}
	inner := tui.New(tui.Options{
		Session: srv.o.Session,
		Actor:   c.actor,
		Resume:  srv.o.Resume,
		Drill:   srv.o.Drill,
		Now:     srv.o.Now,
	})
	m := newScreen(inner, c, srv.clients.currentNotice(), srv.o.IdleTimeout)
	opts := append(bm.MakeOptions(s),
		// The program dies with its connection.
		tea.WithContext(s.Context()),
		// The server's SIGTERM is the server's to handle: left to each
		// program, it would quit every screen at once, past the checks a
		// stop makes.
		tea.WithoutSignalHandler(),
	)
	p := tea.NewProgram(m, opts...)
	c.setProgram(p, inner)
	return p
}
