package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"steady/internal/session"
)

// Timeouts of the SSH layer. The session limits (idle, maximum) are kept
// by each client's screen, which can say goodbye; the SSH layer's own
// deadlines sit a little later as a backstop for connections that never
// reach a screen or whose peer vanished.
const (
	handshakeTimeout = 30 * time.Second
	backstop         = time.Minute
	// drainTimeout bounds each step of a stop: cancelled work ending, and
	// clients leaving after their goodbye.
	drainTimeout = 15 * time.Second
)

// Server serves one incident over SSH: each session with a terminal gets
// its own incident screen bound to the shared session.
type Server struct {
	o       Options
	log     *slog.Logger
	ssh     *ssh.Server
	ln      net.Listener
	hostKey gossh.Signer
	keys    *keyring
	clients *clients
	// stopper is the actor of the cancels a stop records.
	stopper session.Actor

	force     chan struct{}
	forceOnce sync.Once
}

// Run serves the incident until ctx ends, then stops gracefully (see
// Server.Serve). It is the whole server for callers that need nothing
// else, such as `steady drill --serve`.
func Run(ctx context.Context, o Options) error {
	srv, err := New(o)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// New loads the host key (creating it on first start) and the authorized
// keys, and listens. Nothing is served until Serve.
func New(o Options) (*Server, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	srv := &Server{
		o: o, log: o.Logger, clients: newClients(o.MaxSessions), force: make(chan struct{}),
		stopper: session.Actor{Name: "steady serve", Via: "steady", Role: session.Operator},
	}
	if o.Force {
		srv.Force()
	}
	keys, err := ReadAuthorizedKeys(o.AuthorizedKeys, o.Roles)
	if err != nil {
		return nil, err
	}
	srv.keys = &keyring{path: o.AuthorizedKeys, roles: o.Roles, warn: srv.log.Warn}
	for _, entry := range unmatched(keys, o.Roles) {
		srv.log.Warn("serve.operators/observers entry matches no authorized key", "entry", entry, "file", o.AuthorizedKeys)
	}

	signer, created, err := LoadHostKey(o.HostKey)
	if err != nil {
		return nil, err
	}
	srv.hostKey = signer
	fp := gossh.FingerprintSHA256(signer.PublicKey())
	if created {
		srv.log.Info("host key created", "file", o.HostKey, "fingerprint", fp)
	}

	srv.ssh, err = wish.NewServer(
		func(s *ssh.Server) error { s.AddHostKey(signer); return nil },
		wish.WithVersion("steady"),
		// Public keys only: with no password or keyboard-interactive
		// handler the server does not even offer those methods.
		wish.WithPublicKeyAuth(srv.checkKey),
		// An emulated PTY: the program reads and writes the session and
		// is the only reader of its window changes, so every resize
		// reaches it (a real PTY's resizer would compete for them).
		ssh.EmulatePty(),
		wish.WithIdleTimeout(o.IdleTimeout+backstop),
		wish.WithMaxTimeout(o.MaxTimeout+backstop),
		func(s *ssh.Server) error {
			s.HandshakeTimeout = handshakeTimeout
			s.ConnectionFailedCallback = func(conn net.Conn, err error) {
				srv.log.Info("connection closed before a session", "remote", addrString(conn.RemoteAddr()), "reason", err.Error())
			}
			return nil
		},
		// The middleware chain, in one place; the last listed runs first.
		wish.WithMiddleware(
			srv.programs(), // one incident screen per session, bound to the shared Session
			srv.attend,     // joins the incident, keeps the time limit, says goodbye, leaves
			srv.admit,      // who it is, a terminal, the session limit; the connection log
		),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}

	if srv.ln = o.Listener; srv.ln == nil {
		if srv.ln, err = Listen(o.Listen); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// Listen listens on addr (host:port) for a server, with an error that
// says what to do when the address is taken.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another steady serve running? pick another address with --listen)", addr, err)
	}
	return ln, nil
}

// Addr returns the address the server listens on.
func (srv *Server) Addr() net.Addr { return srv.ln.Addr() }

// HostKey returns the server's public host key, for known_hosts.
func (srv *Server) HostKey() gossh.PublicKey { return srv.hostKey.PublicKey() }

// Force lets a stop proceed while a destructive action runs: the action
// is cancelled (the cancel is journaled) instead of awaited. `steady
// serve` calls it on a second SIGTERM or SIGINT.
func (srv *Server) Force() {
	srv.forceOnce.Do(func() { close(srv.force) })
}

// Serve serves until ctx ends, then stops gracefully: while a destructive
// action runs the stop waits for it (saying so in the log and on every
// screen) unless forced; other running actions are cancelled with a
// journaled cancel; every client gets a goodbye and its program quits;
// the server waits for the clients to leave. The incident session stays
// open: the caller shuts it down, which flushes the journal.
func (srv *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ssh.Serve(srv.ln) }()
	n := 0
	if keys, _, err := srv.keys.load(); err == nil {
		n = len(keys)
	}
	srv.log.Info("serving the incident over SSH", "incident", srv.o.Session.ID(), "journal", srv.o.Session.JournalPath(),
		"listen", srv.Addr().String(), "host_key", gossh.FingerprintSHA256(srv.HostKey()),
		"authorized_keys", srv.o.AuthorizedKeys, "keys", n, "max_sessions", srv.o.MaxSessions,
		"idle_timeout", srv.o.IdleTimeout.String(), "max_timeout", srv.o.MaxTimeout.String())
	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go srv.watchKeys(wctx)
	var emptied <-chan struct{}
	if srv.o.StopWhenAllLeave {
		emptied = srv.clients.emptied
	}
	select {
	case err := <-errc:
		return fmt.Errorf("ssh server stopped: %w", err)
	case <-ctx.Done():
	case <-emptied:
		srv.log.Info("the last client left; stopping")
	}
	return srv.stop(errc)
}

// addrString formats an address for the log, tolerating nil.
func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return a.String()
}

// who names the actor who started an action.
func who(a *session.ActionRun) string {
	if a.ConfirmedBy != nil {
		return a.ConfirmedBy.Name
	}
	return a.PlannedBy.Name
}

// describe lists running actions for a sentence: "migrate (started by alice)".
func describe(runs []*session.ActionRun) string {
	parts := make([]string, 0, len(runs))
	for _, a := range runs {
		parts = append(parts, fmt.Sprintf("%s (started by %s)", a.Action, who(a)))
	}
	return strings.Join(parts, ", ")
}
