// Package report turns an incident journal into the postmortem's
// verification checklist: a Report value with a documented JSON form, and
// Markdown that renders well on a code-hosting site.
//
// # Layer
//
// report reads an incident through session (its events, folded) and uses
// visible for what it prints; it names the types and constants of
// runbook, probes and actions that the events hold, and never runs
// anything of theirs; it writes parameters as runbooks do
// (runbook.ParamText).
//
// It counts in its messages with plural.
package report
