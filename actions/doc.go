// Package actions owns the fixes of the runbook: each Action first makes a
// Plan (the exact commands, SQL or keys, the risk, the confirm phrase and
// the preconditions) and then executes exactly that plan, streaming its
// output and honouring cancellation. Nothing here draws on a terminal.
//
// # Layer
//
// actions is used by session, which plans and executes every action and
// journals what it does. It uses target (connections, commands), config,
// profile, celery (the task protocol), django, duration, registry and
// secret. Of probes it names only the types (a Result, a Param, a Scope,
// a LostUpdate): a probe an action consults runs through Env.Probes, the
// session's ProbeRunner, so the run is in the journal. Nothing here draws
// on a terminal.
//
// It counts in its messages with plural, and makes the end of a failed
// tool's stderr harmless with visible.
package actions
