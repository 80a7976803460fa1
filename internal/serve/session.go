package serve

import (
	"errors"
	"fmt"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"

	"steady/internal/plural"
)

// refuse ends a session before any screen with one message for its
// user, wrapped to their terminal when they have one.
func refuse(s ssh.Session, status int, msg string) {
	if pty, _, ok := s.Pty(); ok {
		msg = wrapText(msg, pty.Window.Width)
	}
	wish.Errorln(s, msg)
	_ = s.Exit(status)
}

// admit decides whether a session gets a screen: its identity must be
// that of the key that authenticated, it needs a terminal and no command,
// and the session limit must allow it. It writes the connection log.
func (srv *Server) admit(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		log := srv.log.With("user", s.User(), "remote", addrString(s.RemoteAddr()))
		actor, err := identify(s)
		if err != nil {
			log.Error("session refused", "reason", err.Error())
			refuse(s, exitUsage, "steady: your key could not be identified; reconnect, and tell whoever runs steady serve if it persists.")
			return
		}
		log = log.With("name", actor.Name, "role", string(actor.Role), "fingerprint", actor.Fingerprint)
		if cmd := s.RawCommand(); cmd != "" {
			log.Warn("session refused", "reason", "a command was given", "command", cmd)
			refuse(s, exitUsage, "steady: steady serve runs no commands; connect without one: ssh -t -p PORT HOST")
			return
		}
		pty, _, ok := s.Pty()
		if !ok {
			log.Warn("session refused", "reason", "no terminal (PTY) was requested")
			refuse(s, exitUsage, "steady: the incident screen needs a terminal; connect with ssh -t (and without a command), e.g. ssh -t -p PORT HOST")
			return
		}
		c, err := srv.clients.add(s, actor, log, time.Now())
		switch {
		case errors.Is(err, errFull):
			log.Warn("session refused", "reason", err.Error())
			refuse(s, exitTempFail, fmt.Sprintf("steady: the incident already has %s connected, the most this server allows; try again when someone leaves, or ask whoever runs steady serve to raise serve.max_sessions.", plural.Count(srv.o.MaxSessions, "session", "sessions")))
			return
		case errors.Is(err, errStopping):
			log.Info("session refused", "reason", err.Error())
			refuse(s, exitTempFail, srv.clients.stoppingReason())
			return
		case err != nil:
			log.Error("session refused", "reason", err.Error())
			refuse(s, exitTempFail, "steady: "+err.Error())
			return
		}
		defer srv.clients.remove(s)
		c.log.Info("connected", "term", pty.Term, "cols", pty.Window.Width, "rows", pty.Window.Height, "sessions", srv.clients.count())
		next(s)
		reason := "quit"
		if goodbye, _, ended := c.ending(); ended {
			reason = goodbye
		}
		c.log.Info("disconnected", "after", time.Since(c.started).Round(time.Second).String(), "reason", reason)
	}
}

// attend runs an admitted session's screen inside the incident: the
// person joins it (with their first session), the maximum session time
// is kept, and when the screen is gone the person leaves (with their last
// session) and reads why the server ended the session, if it did.
func (srv *Server) attend(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		c := srv.clients.of(s)
		if c == nil {
			return
		}
		if err := srv.clients.arrive(srv.o.Session, c.actor); err != nil {
			c.log.Error("session refused", "reason", "its arrival could not be journaled", "error", err.Error())
			refuse(s, exitTempFail, "steady: the incident journal could not record your arrival ("+err.Error()+"); try again shortly.")
			return
		}
		limit := time.AfterFunc(srv.o.MaxTimeout, func() {
			c.end(fmt.Sprintf("steady: your session reached the maximum of %s, so the server ended it (the incident goes on: reconnect to rejoin it).", srv.o.MaxTimeout), exitEnded)
		})
		next(s)
		limit.Stop()
		c.mu.Lock()
		m := c.model
		c.mu.Unlock()
		if closer, ok := m.(interface{ Close() }); ok {
			// The program is over; its subscription to the incident must
			// not outlive it (a client that vanished never pressed q).
			closer.Close()
		}
		if err := srv.clients.depart(srv.o.Session, c.actor); err != nil {
			c.log.Warn("leaving not journaled", "error", err.Error())
		}
		if goodbye, status, ended := c.ending(); ended {
			wish.Println(s, c.wrapped(goodbye))
			_ = s.Exit(status)
		}
	}
}
