package session

import (
	"encoding/json"
	"time"

	"steady/actions"
	"steady/probes"
)

// Event is one line of the journal.
type Event struct {
	Seq   int64           `json:"seq"`
	Time  time.Time       `json:"time"`
	Actor Actor           `json:"actor"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data,omitempty"`
	// Prev is the hash of the previous event ("" for the first).
	Prev string `json:"prev"`
	// Hash is the SHA-256 of this line written with Hash empty.
	Hash string `json:"hash"`
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// Role is what an actor may do.
type Role string

// Roles (Role.May says what each may do). An observer watches, ticks
// manual items and writes notes; an approver also approves or rejects a
// destructive plan another operator confirmed; only an operator runs
// probes and actions or overrides a guard.
const (
	Operator Role = "operator"
	Approver Role = "approver"
	Observer Role = "observer"
)

// Actor is who caused an event.
type Actor struct {
	Name string `json:"name"`
	// Via is "local" (a terminal on this machine), "ssh", "cli" (a
	// headless command) or "steady" (the program itself).
	Via string `json:"via"`
	// Fingerprint is the SSH key's SHA256 fingerprint, for SSH actors.
	Fingerprint string `json:"fingerprint,omitempty"`
	Role        Role   `json:"role"`
}

// String names the actor for screens and reports.
func (a Actor) String() string {
	if a.Via == "ssh" && a.Fingerprint != "" {
		return a.Name + " (ssh " + shortFingerprint(a.Fingerprint) + ")"
	}
	return a.Name
}

func shortFingerprint(fp string) string {
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}

// System is the actor of events steady records on its own.
var System = Actor{Name: "steady", Via: "steady", Role: Operator}

// Event types.
const (
	TypeOpened           = "incident.opened"
	TypeResumed          = "incident.resumed"
	TypeClosed           = "incident.closed"
	TypeSealed           = "incident.sealed"
	TypeJoined           = "operator.joined"
	TypeLeft             = "operator.left"
	TypeTicked           = "item.ticked"
	TypeSkipped          = "item.skipped"
	TypeNoted            = "item.noted"
	TypeProbeStarted     = "probe.started"
	TypeProbeFinished    = "probe.finished"
	TypeActionPlanned    = "action.planned"
	TypeActionConfirmed  = "action.confirmed"
	TypeAccessChanged    = "access.changed"
	TypeActionApproved   = "action.approved"
	TypeActionRejected   = "action.rejected"
	TypeApprovalPolicy   = "approval.policy"
	TypeActionDiscarded  = "action.discarded"
	TypeActionStarted    = "action.started"
	TypeActionOutput     = "action.output"
	TypeActionProgress   = "action.progress"
	TypeActionCancel     = "action.cancel-requested"
	TypeActionFinished   = "action.finished"
	TypeEscalationRaised = "escalation.raised"
	TypeEscalationAcked  = "escalation.acknowledged"
	TypeDrillScored      = "drill.scored"
)

// Opened starts an incident.
type Opened struct {
	ID          string        `json:"id"`
	Runbook     string        `json:"runbook"`
	RunbookFile string        `json:"runbook_file"`
	RunbookHash string        `json:"runbook_hash"`
	Title       string        `json:"title"`
	Severity    string        `json:"severity"`
	TTR         time.Duration `json:"ttr_ns"`
	// Target describes the systems, redacted.
	Target string `json:"target"`
	// Profile says where the application's names came from (discovered
	// from Django, guessed from the catalog, steady.yaml).
	Profile string `json:"profile,omitempty"`
	// Approval is the two-person rule the incident opened with.
	Approval Approval `json:"approval,omitempty"`
	Host     string   `json:"host,omitempty"`
	Version  string   `json:"version,omitempty"`
	Drill    *Drill   `json:"drill,omitempty"`
	// Head is set when the journal keeps a head file beside it: one
	// missing then means it was removed.
	Head bool `json:"head,omitempty"`
	// Follows links the incident this one continues, whose journal could
	// not be resumed.
	Follows *Link `json:"follows,omitempty"`
}

// Link ties a new incident to an earlier one it continues.
type Link struct {
	ID string `json:"id"`
	// Journal is the earlier journal's file name.
	Journal string `json:"journal"`
	// Why says why the earlier incident was not resumed.
	Why string `json:"why"`
}

// Drill describes a practice incident in a sandbox.
type Drill struct {
	Scenario string   `json:"scenario"`
	Seed     int64    `json:"seed"`
	Causes   []string `json:"causes"`
	// Resolution is the expected safe resolution, in words.
	Resolution string `json:"resolution,omitempty"`
}

// Resumed records that the incident was rebuilt from its journal.
type Resumed struct {
	// Truncated is set when the journal ended in the middle of a line
	// (the process was killed while writing); DroppedBytes were removed.
	Truncated    bool `json:"truncated,omitempty"`
	DroppedBytes int  `json:"dropped_bytes,omitempty"`
	// Unknown lists action runs that were running when the process died.
	Unknown []string `json:"unknown,omitempty"`
	// Recheck lists probes to re-run before anything else.
	Recheck []string `json:"recheck,omitempty"`
	// RunbookChanged is set when the runbook's hash differs from the one
	// the incident was opened with.
	RunbookChanged bool `json:"runbook_changed,omitempty"`
}

// Closed ends an incident.
type Closed struct {
	Summary string `json:"summary,omitempty"`
}

// Sealed is the last event of a closed incident's journal, written when
// the session that closed it ends: nothing may follow it.
type Sealed struct {
	// Events counts the events before the seal.
	Events int64 `json:"events"`
}

// Ticked records a manual item ticked or unticked.
type Ticked struct {
	Item    string `json:"item"`
	Checked bool   `json:"checked"`
}

// Skipped records an item skipped with a reason.
type Skipped struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// Noted records a note on an item ("" for the incident as a whole).
type Noted struct {
	Item string `json:"item,omitempty"`
	Text string `json:"text"`
}

// ProbeStarted records a probe run beginning.
type ProbeStarted struct {
	Run    string            `json:"run"`
	Probe  string            `json:"probe"`
	Item   string            `json:"item,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	// Action is the action run whose plan or execution ran the probe
	// (the migrations a migrate plans from, a restart's health check).
	Action string `json:"action,omitempty"`
}

// ProbeFinished records a probe's result.
type ProbeFinished struct {
	Run    string        `json:"run"`
	Result probes.Result `json:"result"`
}

// ActionPlanned records a plan shown to the operator.
type ActionPlanned struct {
	Run    string       `json:"run"`
	Action string       `json:"action"`
	Item   string       `json:"item,omitempty"`
	Plan   actions.Plan `json:"plan"`
	// Replaces is the stale plan this one was made again for, and Changes
	// what differed.
	Replaces string   `json:"replaces,omitempty"`
	Changes  []string `json:"changes,omitempty"`
}

// ApprovalPolicy records the incident's two-person rule made stricter on
// resume (a local incident served to a team).
type ApprovalPolicy struct {
	Approval Approval `json:"approval"`
}

// ActionDiscarded records a planned action put aside without running it.
type ActionDiscarded struct {
	Run string `json:"run"`
}

// ActionConfirmed records the operator's informed confirmation.
type ActionConfirmed struct {
	Run string `json:"run"`
	// AwaitingApproval is set when the plan waits for a second operator.
	AwaitingApproval bool `json:"awaiting_approval,omitempty"`
	// Override is the written reason for waiving a precondition.
	Override string `json:"override,omitempty"`
}

// ActionStarted records execution beginning.
type ActionStarted struct {
	Run string `json:"run"`
}

// OutputLine is one line of action output.
type OutputLine struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// ActionOutput carries a batch of output lines. Lines longer than
// MaxLineBytes are cut, and Cut counts the bytes removed.
type ActionOutput struct {
	Run   string       `json:"run"`
	Lines []OutputLine `json:"lines"`
	Cut   int          `json:"cut,omitempty"`
}

// ActionProgress reports progress of a long action.
type ActionProgress struct {
	Run   string `json:"run"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Label string `json:"label,omitempty"`
}

// ActionCancel records a request to cancel a running action.
type ActionCancel struct {
	Run string `json:"run"`
}

// ActionFinished records an action's outcome.
type ActionFinished struct {
	Run     string          `json:"run"`
	Outcome actions.Outcome `json:"outcome"`
}

// EscalationRaised records an escalation threshold crossed or declared.
type EscalationRaised struct {
	Rule int    `json:"rule"`
	To   string `json:"to"`
	When string `json:"when"`
	// Auto is true when the elapsed time raised it.
	Auto bool `json:"auto,omitempty"`
}

// EscalationAcked records an operator acknowledging an escalation.
type EscalationAcked struct {
	Rule int `json:"rule"`
}
