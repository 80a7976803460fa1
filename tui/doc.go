// Package tui is steady's terminal interface: one Bubble Tea program per
// client (a local terminal or an SSH session) that renders a live incident
// session as a guided checklist and sends the operator's intents (run a
// probe, plan and confirm an action, tick, note, skip, escalate) back to
// it. It never talks to PostgreSQL or Redis itself.
//
// The model tree mirrors the screen. Model (model.go) is the root: it
// routes by page (main, cause board, help, related runbooks) and by focus.
// Its children each own their Update and View: the header (header.go) and
// banners (banner.go); the checklist pane (checklist.go, filter.go); the
// detail pane (detail.go) with its evidence table (evidence.go) and the
// action plan, output and outcome (action.go); the root-cause board
// (causes.go); the related runbooks (related.go); and the modal steps,
// each a huh form embedded as a child (dialog.go, params.go, confirm.go,
// prompt.go, closeincident.go). Intents run in tea.Cmds (intents.go);
// session events arrive through a re-issued command (events.go). Closing
// the incident, and what a closed incident still takes, is in
// closeincident.go.
//
// All text is wrapped by wrap.go, at spaces only: commands, SQL and
// output lines continue on deeper-indented lines, so a command is never
// broken at a hyphen into something that reads as two.
//
// Styles, key maps, the Markdown renderer and the colour profile belong to
// one client (common.go, styles.go, keys.go, markdown.go): nothing is
// package-level, so the same code serves many SSH clients at once.
//
// # Layer
//
// tui is used by cmd/steady and serve. It uses session for every intent
// and for all it shows (a probe's parameters and the related runbooks
// too), mdterm to render Markdown and visible for text from outside. It
// names the types and constants of runbook, probes and actions that the
// session's state holds, and calls none of their functions.
//
// It counts in its messages with plural.
package tui
