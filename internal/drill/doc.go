// Package drill owns steady's practice incidents: a private sandbox
// (PostgreSQL and Redis from the local binaries) holding a Django-shaped
// clinic database, a django-redis cache and a Celery broker, with the faults
// of one scenario injected; the built-in stand-ins for the application's
// processes that make the fixes really work without Django (a migrator and
// test runner behind `steady sandbox manage`, a Celery-compatible worker
// behind `steady sandbox worker`, restarted through a control socket); and
// the scoring of a finished drill into a debrief.
//
// A drill touches nothing but its own sandbox: every command it configures
// refuses a database or Redis that does not carry the sandbox's marker.
//
// # Layer
//
// drill is used by cmd/steady. It uses sandbox and clinic (the private
// servers and the seeded application), celery (the stand-in worker),
// config and target (the drill's own connections), and session, which
// runs the practice incident like any other. It names the types and
// constants of runbook, probes and actions that a finished incident holds,
// and of their functions calls only probes.Decide, to replay the cause
// board's verdicts while scoring.
//
// It sets the sandbox's application profile (profile): a sandbox has no
// calculator of the application's own to run.
package drill
