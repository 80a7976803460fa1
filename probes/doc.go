// Package probes owns the read-only diagnosis of an incident: each Probe
// answers one question of the runbook from the live systems (PostgreSQL in
// a read-only transaction with timeouts, Redis with SCAN) and returns a
// Result with a status, findings and an evidence table. No probe writes.
//
// # Layer
//
// probes is used by session, which runs them and journals each run, and by
// cmd/steady's check; actions only name its types (a Result, a Param, a
// Scope) and ask their Env to run one. It uses target (the connections),
// config, profile (every application name, by role), django (migration
// files), duration, registry, secret and visible, and knows nothing of
// sessions, actions or terminals.
//
// It counts in its messages with plural.
package probes
