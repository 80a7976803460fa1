package actions

import (
	"encoding/json"
	"fmt"
)

// setPayload stores v, an action's typed parameters for Execute, in the plan.
func (p *Plan) setPayload(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the plan's payload: %w", err)
	}
	p.Payload = b
	return nil
}

// readPayload decodes the plan's payload into v. It reports false, leaving v alone, for a
// plan without one: a plan journaled before payloads, whose action reads its Facts instead.
func (p *Plan) readPayload(v any) (bool, error) {
	if len(p.Payload) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(p.Payload, v); err != nil {
		return false, fmt.Errorf("read the %s plan's payload: %w", p.Action, err)
	}
	return true, nil
}

// payloadOr reads the plan's payload as a T or, for a plan journaled before
// payloads, makes the T from its facts with legacy.
func payloadOr[T any](plan *Plan, legacy func(facts map[string]string) T) (T, error) {
	var pl T
	if ok, err := plan.readPayload(&pl); ok || err != nil {
		return pl, err
	}
	return legacy(plan.Facts), nil
}
