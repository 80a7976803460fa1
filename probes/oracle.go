package probes

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"steady/internal/django"
	"steady/internal/profile"
	"steady/internal/target"
)

// The application's own code is the best oracle of its rule: where the
// profile names a calculator and a manage command is configured, the
// worked-shift probes run it for the scopes they judge, all in one
// process, and compare the application's fresh figure with the stored
// summary and the cached value. steady's SQL reading of the rule stays the
// fast path that finds the candidates, and says it is steady's reading.

//go:embed oracle.py
var oracleScript string

const (
	oracleBegin = "<<<steady-figures-begin>>>"
	oracleEnd   = "<<<steady-figures-end>>>"
	// maxOracleScopes bounds one calculator run.
	maxOracleScopes = 500
	// oracleTimeout bounds it: a Django start-up and one query per scope.
	oracleTimeout = 2 * time.Minute
)

// appFigure is the application's figure for one scope, or why there is none.
type appFigure struct {
	value int64
	err   string
}

// oracle is a ready calculator run, or why there is none.
type oracle struct {
	call string
	// why is set when the calculator cannot be used.
	why string
}

// calculatorOf says whether the application's calculator can run here.
func calculatorOf(t *target.Target) oracle {
	cfg := t.Config()
	c := cfg.Profile.Calculator
	switch {
	case c.Call == "":
		return oracle{why: "no calculator in the profile"}
	case cfg.Django.Manage == "":
		return oracle{call: c.Call, why: "no manage command configured to run " + c.Call + " (--manage)"}
	case c.Clinician == profile.PassModel && cfg.Profile.Clinician.Model == "":
		return oracle{call: c.Call, why: "the calculator takes the clinician's model, which the profile does not name"}
	}
	return oracle{call: c.Call}
}

// figures runs the calculator for scopes (at most maxOracleScopes) and
// returns each scope's figure; an error means the run as a whole failed
// (Django could not start, or the calculator could not be imported).
func (o oracle) figures(ctx context.Context, t *target.Target, scopes []Scope) (map[Scope]appFigure, error) {
	if o.why != "" {
		return nil, fmt.Errorf("%s", o.why)
	}
	cfg := t.Config()
	c := cfg.Profile.Calculator
	if len(scopes) > maxOracleScopes {
		scopes = scopes[:maxOracleScopes]
	}
	list := make([][3]any, len(scopes))
	for i, s := range scopes {
		list[i] = [3]any{s.Clinician, s.From, s.To}
	}
	conf, err := json.Marshal(map[string]any{
		"import": c.Import, "call": c.Call, "pass": c.Clinician, "model": cfg.Profile.Clinician.Model,
		"statement_timeout_ms": cfg.Probes.StatementTimeout.D().Milliseconds(), "scopes": list,
	})
	if err != nil {
		return nil, err
	}
	script := strings.NewReplacer("@CONFIG@", base64.StdEncoding.EncodeToString(conf), "@BEGIN@", oracleBegin, "@END@", oracleEnd).Replace(oracleScript)
	body, err := django.Shell(ctx, django.ShellOptions{Manage: cfg.Django.Manage, Dir: cfg.Django.Dir, Timeout: oracleTimeout, Grace: cfg.Actions.KillGrace.D()},
		script, oracleBegin, oracleEnd)
	if err != nil {
		return nil, err
	}
	var res struct {
		Error   string `json:"error"`
		Figures []struct {
			Value *int64 `json:"value"`
			Error string `json:"error"`
		} `json:"figures"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		return nil, fmt.Errorf("the calculator's output is not JSON: %w", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("%s could not run: %s", c.Call, res.Error)
	}
	out := map[Scope]appFigure{}
	for i, f := range res.Figures {
		if i >= len(scopes) {
			break
		}
		switch {
		case f.Value != nil:
			out[scopes[i]] = appFigure{value: *f.Value}
		default:
			out[scopes[i]] = appFigure{err: f.Error}
		}
	}
	return out, nil
}
