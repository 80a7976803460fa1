package actions

import (
	"context"

	"steady/probes"
)

// ProbeRunner runs the probes an action consults: the unapplied
// migrations a migrate or backup plans from, the affected scopes a
// recalculation takes, the health check after a restart, the lost updates
// a repair restores. The session's runner journals every run as one of the
// incident's own probe results, so what an action saw is in the record;
// actions never run a probe themselves.
type ProbeRunner interface {
	// RunProbe runs probe with params (its declared defaults fill the
	// rest) and returns its result; a probe that cannot run is a result
	// with status error.
	RunProbe(ctx context.Context, probe string, params map[string]string) probes.Result
}

// runProbe runs a probe through env's runner. An Env without one (made
// outside a session) gets an error result saying so.
func (env *Env) runProbe(ctx context.Context, probe string, params map[string]string) probes.Result {
	if env.Probes == nil {
		msg := "no probe runner: an action runs probes through its incident session"
		return probes.Result{Probe: probe, Status: probes.Error, Summary: msg, Error: msg}
	}
	return env.Probes.RunProbe(ctx, probe, params)
}
