package actions

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A flush plan journaled before payloads carried what Execute needs in its
// facts; such a plan still reads the same.
func TestFlushPayloadOfAnOlderJournalsPlan(t *testing.T) {
	const journaled = `{"action":"flush-cache","title":"Flush the Django cache","summary":"UNLINK 7 keys","risk":"high",
"destructive":true,"confirm_phrase":"drop 2 queued tasks","steps":[],"created_at":"2026-01-05T10:00:00Z",
"facts":{"mode":"unlink","patterns":":1:shiftcount:*\n:1:figures:*","keys":"7","keys :1:shiftcount:*":"5",
"lose_queued":"2","lose_unacked":"1","lose_results":"0"}}`
	var plan Plan
	if err := json.Unmarshal([]byte(journaled), &plan); err != nil {
		t.Fatal(err)
	}
	got, err := flushPayloadOf(&plan)
	if err != nil {
		t.Fatal(err)
	}
	want := flushPayload{Mode: flushUnlink, Patterns: []string{":1:shiftcount:*", ":1:figures:*"}, Keys: 7,
		Accepted: acceptedLoss{Queued: 2, Unacked: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload of an older plan = %+v, want %+v", got, want)
	}
}

// A plan's payload survives the journal: what Plan stores is what Execute
// reads, whatever the facts say.
func TestFlushPayloadRoundTrip(t *testing.T) {
	want := flushPayload{Mode: flushDB, Keys: 12, Accepted: acceptedLoss{Results: 3}}
	plan := &Plan{Action: "flush-cache", Facts: map[string]string{factFlushMode: flushAll}}
	if err := plan.setPayload(want); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	got, err := flushPayloadOf(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payload after the journal = %+v, want %+v", got, want)
	}
}

// A payload that does not decode is an error, not an empty plan.
func TestFlushPayloadUnreadable(t *testing.T) {
	plan := &Plan{Action: "flush-cache", Payload: json.RawMessage(`{"mode":1}`)}
	if _, err := flushPayloadOf(plan); err == nil {
		t.Error("a payload of the wrong shape was read without an error")
	}
}
