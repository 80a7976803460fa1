// Package session owns a live incident: its state is a fold of events, each
// event is appended to a hash-chained, fsync'd JSONL journal before anyone
// sees it, and subscribers (terminal clients, SSH viewers) receive every
// event in order. Probes and actions are started through the session so
// that everything they do is recorded.
//
// # Layer
//
// session is the one way into an incident: cmd/steady, serve, tui, drill
// and report use it, and nothing below it knows it exists. It uses
// runbook (the checklist), probes (it runs them: Session.RunProbe, and
// for an action, the actions.ProbeRunner in its Env, so every probe run
// is journaled), actions (plans and executes them), target (the systems
// the incident is about), secret and visible (what it records). It never
// draws on a terminal nor talks to PostgreSQL or Redis itself.
//
// It counts in its messages with plural.
package session
