// Package serve makes the incident screen an SSH application for the
// whole on-call team: `steady serve` listens (wish v2 on charm.land/ssh),
// and every SSH session with a terminal gets its own Bubble Tea program —
// its own renderer, colour profile, styles and key map — bound to the one
// shared incident session, so a probe one responder starts shows up live
// on every screen and every event is journaled with its SSH user and key
// fingerprint.
//
// The server's middleware chain is built in one place (server.go): admit
// (session.go) checks who the session is, that it has a terminal and no
// command, and the session limit, and writes the connection log; attend
// (session.go) joins the person to the incident, keeps the maximum
// session time and says goodbye; programs (program.go) is the program
// factory. screen.go wraps each client's incident screen with the
// server's notice line and idle clock; shutdown.go stops gracefully.
//
// # Keys and roles
//
// Authentication is by public key only, against an authorized_keys file
// read again whenever it changes; the offered key is checked inside the
// public-key callback and the identity kept in that attempt's
// permissions, so a key that was offered but did not sign never lends its
// identity (CVE-2024-45337). One line per key:
//
//	ssh-ed25519 AAAAC3Nza... alice role=operator
//	ssh-ed25519 AAAAC3Nza... bob role=observer
//
// The first comment word that is not key=value names the person: that
// name, not the SSH user (which every client chooses freely, and which is
// often a shared "oncall" on a bastion), is the journal's actor; a key
// without a name falls back to the SSH user. steady.yaml's
// serve.operators and serve.observers may also list fingerprints
// (SHA256:...) or names. Least privilege decides: observer if any source
// says observer, operator if one says operator, observer otherwise.
// OpenSSH options (from=, command=...), certificates and unknown roles are
// refused line by line, since steady would not enforce them.
//
// # Limits and stopping
//
// A session needs a PTY (ssh -t) and no command; otherwise it gets one
// line and exit status 2. Beyond serve.max_sessions a session is turned
// away with exit status 75 (try later). A session idle (no key press) for
// serve.idle_timeout, or connected for serve.max_timeout, is ended with a
// goodbye and exit status 1; the SSH layer's own deadlines sit a minute
// later as a backstop for dead connections.
//
// A stop (ctx ending) waits while a destructive action runs, saying so in
// the log and on every screen, unless forced (Options.Force, or
// Server.Force on a second signal). Other running actions are cancelled
// with a journaled cancel. Every client then reads a goodbye (exit status
// 75) and its program quits; the caller shuts the session down, which
// closes the journal with everything recorded.
//
// # Layer
//
// serve is used by cmd/steady. It uses session (the one shared incident,
// and who may do what in it), tui (the screen each client gets) and config
// (the server's settings); it never runs a probe or an action itself.
//
// It counts in its messages with plural.
package serve
