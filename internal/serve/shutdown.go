package serve

import (
	"context"
	"time"

	"steady/internal/session"
)

// goodbyeStopping is what every client reads when the server stops.
const goodbyeStopping = "steady: the server is stopping, so your session ended. The incident and its journal are saved; reconnect when the server is back."

// stop ends serving, in the order that loses nothing: wait out (or, when
// forced, cancel) destructive actions; turn new sessions away and close
// the listener; cancel what still runs, with the cancel journaled and
// announced; say goodbye to every client and let their programs quit;
// wait for them to leave (their leaving is journaled too).
func (srv *Server) stop(served <-chan error) error {
	srv.awaitDestructive()

	srv.clients.refuseNew(goodbyeStopping)
	// Shutdown closes the listener at once, then waits for the
	// connections, which end as their clients read the goodbye.
	shutCtx, cancelShut := context.WithCancel(context.Background())
	defer cancelShut()
	shut := make(chan error, 1)
	go func() { shut <- srv.ssh.Shutdown(shutCtx) }()

	srv.cancelRunning()

	clients := srv.clients.count()
	srv.clients.endAll(goodbyeStopping, exitTempFail)
	if !srv.clients.wait(drainTimeout) {
		srv.log.Warn("clients did not leave in time after their goodbye; closing their connections", "waited", drainTimeout.String())
		_ = srv.ssh.Close()
		srv.clients.wait(drainTimeout)
	}
	select {
	case <-shut:
	case <-time.After(drainTimeout):
		_ = srv.ssh.Close()
	}
	<-served
	srv.log.Info("stopped serving", "incident", srv.o.Session.ID(), "clients_ended", clients)
	return nil
}

// awaitDestructive holds a stop while a destructive action runs, saying
// so in the log and on every screen, until the action ends or the stop
// is forced. Stopping would cancel it halfway through a migration or a
// flush, which is worse than waiting.
func (srv *Server) awaitDestructive() {
	s := srv.o.Session
	sub := s.Subscribe()
	defer sub.Close()
	announced := ""
	for {
		running := destructive(s.State().RunningActions())
		if len(running) == 0 {
			if announced != "" {
				srv.log.Info("the destructive action ended; stopping now")
				srv.clients.announce("")
			}
			return
		}
		desc := describe(running)
		select {
		case <-srv.force:
			srv.log.Warn("stop forced while a destructive action runs: it will be cancelled", "actions", desc)
			return
		default:
		}
		if desc != announced {
			srv.log.Warn("stop deferred: a destructive action is running; the server stops when it ends",
				"actions", desc, "to_stop_now", "send SIGTERM or SIGINT again (or start with --force) to cancel it and stop")
			srv.clients.announce("Server stop requested: it waits for " + desc + " to finish; nothing is interrupted.")
			announced = desc
		}
		select {
		case _, open := <-sub.C:
			if !open {
				return
			}
			sub.Next()
		case <-srv.force:
		}
	}
}

// cancelRunning cancels the actions still running, each with a cancel
// recorded in the journal by the server, and waits a while for them to
// end so their outcome is journaled and seen before the goodbye.
func (srv *Server) cancelRunning() {
	s := srv.o.Session
	running := s.State().RunningActions()
	if len(running) == 0 {
		return
	}
	for _, a := range running {
		srv.log.Warn("cancelling a running action because the server is stopping",
			"action", a.Action, "run", a.ID, "started_by", who(a), "destructive", a.Plan.Destructive)
		if err := s.CancelAction(srv.stopper, a.ID); err != nil {
			srv.log.Warn("cancel not sent", "run", a.ID, "error", err.Error())
		}
	}
	srv.clients.announce("Server stopping: cancelled " + describe(running) + "; waiting for it to end.")
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		srv.log.Warn("cancelled work is still running; the session's shutdown awaits it", "waited", drainTimeout.String())
	}
}

// destructive returns the destructive runs among runs.
func destructive(runs []*session.ActionRun) []*session.ActionRun {
	var out []*session.ActionRun
	for _, a := range runs {
		if a.Plan.Destructive {
			out = append(out, a)
		}
	}
	return out
}
