package serve

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"steady/internal/config"
	"steady/internal/session"
)

// Defaults of the options left zero. They match steady.yaml's defaults
// (config.Default().Serve).
const (
	DefaultListen      = "127.0.0.1:2222"
	DefaultHostKey     = ".steady/host_ed25519"
	DefaultMaxSessions = 16
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxTimeout  = 12 * time.Hour
)

// Options configure a server.
type Options struct {
	// Session is the incident every client works on. The server never
	// closes it: the caller shuts it down after Serve returns (which
	// flushes and closes the journal), so a drill can still score it.
	Session *session.Session

	// Listen is the TCP address (host:port; port 0 picks a free one).
	Listen string
	// Listener, when set, is used instead of listening on Listen: a
	// caller that must know the address is free before it opens the
	// incident listens first. The server closes it when it stops.
	Listener net.Listener
	// HostKey is the private host key file, created on first start.
	HostKey string
	// AuthorizedKeys is the file of the team's public keys and roles
	// (see ParseAuthorizedKeys). It is required.
	AuthorizedKeys string
	// Roles are steady.yaml's serve.operators and serve.observers.
	Roles Roles

	// MaxSessions is how many SSH sessions may be connected at once.
	MaxSessions int
	// IdleTimeout ends a session after this long without a key press.
	IdleTimeout time.Duration
	// MaxTimeout ends a session this long after it started.
	MaxTimeout time.Duration

	// Force stops the server even while a destructive action runs,
	// cancelling it (the cancel is journaled). Without it a stop waits for
	// the action to end, or for Server.Force.
	Force bool

	// StopWhenAllLeave stops the server once the last client has left
	// (after one came): a drill served to a trainee ends when the trainee
	// and the facilitator are done.
	StopWhenAllLeave bool

	// Resume, when the incident was resumed, is shown to every client
	// when it connects.
	Resume *session.ResumeReport
	// Drill, when not empty, shows a DRILL banner with this text.
	Drill string

	// Logger receives the connection log; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock the screens display (tests pin it); nil means
	// time.Now. Session limits always run on real time.
	Now func() time.Time
}

// OptionsFromConfig returns the options steady.yaml's serve section sets.
// The caller adds the Session (and a Logger).
func OptionsFromConfig(c config.Serve) Options {
	return Options{
		Listen:         c.Listen,
		HostKey:        c.HostKey,
		AuthorizedKeys: c.AuthorizedKeys,
		Roles:          Roles{Operators: c.Operators, Approvers: c.Approvers, Observers: c.Observers},
		MaxSessions:    c.MaxSessions,
		IdleTimeout:    time.Duration(c.IdleTimeout),
		MaxTimeout:     time.Duration(c.MaxTimeout),
	}
}

// withDefaults fills the zero options and checks the required ones.
func (o Options) withDefaults() (Options, error) {
	if o.Session == nil {
		return o, errors.New("serve: no incident session to serve")
	}
	if o.AuthorizedKeys == "" {
		return o, errors.New("no authorized keys file: give --authorized-keys FILE (or serve.authorized_keys in steady.yaml) listing the team's public keys, one per line, each ending in role=operator or role=observer")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.HostKey == "" {
		o.HostKey = DefaultHostKey
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = DefaultMaxTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
