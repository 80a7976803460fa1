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
	got, err := flushPayloadOf(throughJournal(t, plan))
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

// Repair and restore-rehearsal plans journaled before payloads read the
// same from their facts as a new plan reads from its payload.
func TestPayloadsOfOlderJournalsPlans(t *testing.T) {
	repair := &Plan{Action: "repair-lost-updates", Facts: map[string]string{factDatabase: "app", "mode": repairSQL, "undo": "UPDATE x;"}}
	if got, err := repairPayloadOf(repair); err != nil || got != (repairPayload{Mode: repairSQL, Undo: "UPDATE x;"}) {
		t.Errorf("repair payload of an older plan = %+v, %v", got, err)
	}
	check := &Plan{Action: "restore-check", Facts: map[string]string{factDatabase: "app", factMode: modeScoped, factBackup: "/b/app.dump",
		factScratch: "steady_check_x", factCount: "config_shift,config_auditlog", "toc_list": "/tmp/x.list"}}
	want := restoreCheckPayload{Mode: modeScoped, Database: "app", Backup: "/b/app.dump", Scratch: "steady_check_x",
		Count: []string{"config_shift", "config_auditlog"}, TOCList: "/tmp/x.list"}
	if got, err := restoreCheckPayloadOf(check); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("restore-check payload of an older plan = %+v, %v; want %+v", got, err, want)
	}
	if err := check.setPayload(restoreCheckPayload{Mode: modePgBackRest, Path: "/tmp/r"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := restoreCheckPayloadOf(check); got.Mode != modePgBackRest || got.Path != "/tmp/r" || got.Scratch != "" {
		t.Errorf("a payload is read before the facts: got %+v", got)
	}
}

// A backup plan journaled before payloads reads its mode's parameters from
// its facts, as a new plan's payload holds them.
func TestBackupPayloadOfAnOlderJournalsPlan(t *testing.T) {
	facts := map[string]string{factMode: modeScoped, factDatabase: "app", factPath: "/b/app-scoped.dump", factDir: "/b",
		factFormat: formatCustom, factTables: "public.config_shift,public.config_auditlog", factMigrations: "config.0003_shift_constraints"}
	want := backupPayload{Mode: modeScoped, Database: "app", Path: "/b/app-scoped.dump", Dir: "/b", Format: formatCustom,
		Tables: []string{"public.config_shift", "public.config_auditlog"}, Migrations: []string{"config.0003_shift_constraints"}}
	old := &Plan{Action: "backup", Facts: facts}
	if got, err := backupPayloadOf(old); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("payload of an older plan = %+v, %v; want %+v", got, err, want)
	}
	plan := &Plan{Action: "backup", Facts: map[string]string{factMode: modePgDump}}
	if err := plan.setPayload(want); err != nil {
		t.Fatal(err)
	}
	if got, err := backupPayloadOf(throughJournal(t, plan)); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("payload after the journal = %+v, %v; want %+v", got, err, want)
	}
}

// throughJournal is the plan as a journal gives it back.
func throughJournal(t *testing.T, plan *Plan) *Plan {
	t.Helper()
	b, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return &back
}
