package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"steady/actions"
	"steady/internal/secret"
	"steady/internal/target"
	"steady/runbook"
)

// Session is one live incident. It is safe for concurrent use by many
// clients.
type Session struct {
	rb      *runbook.Runbook
	target  *target.Target
	journal *Journal
	scrub   *secret.Scrubber
	now     func() time.Time

	// runbooks is the directory of runbooks besides the built-in ones.
	runbooks string

	// startMu makes starting an action one step: the check that nothing
	// else runs and the action.started append happen under it, so two
	// clients can never both start.
	startMu sync.Mutex

	mu sync.Mutex
	// approvalsWatched is set once the loop picking up handed-in
	// approvals runs.
	approvalsWatched bool
	state            *State
	subs             map[*Subscription]struct{}
	cancels          map[string]context.CancelFunc
	// finished holds a channel per running probe or action, closed when
	// the run ends; unrecorded keeps the outcomes the journal refused.
	finished   map[string]chan struct{}
	unrecorded map[string]actions.Outcome
	// plans keeps each plan as the action made it: the journal holds it
	// scrubbed for display, and a scrubbed plan must never run.
	plans map[string]actions.Plan
	// failure says which events the journal could not record.
	failure *JournalFailure
	runs    sync.WaitGroup
	closed  bool
	// counters number probe and action runs: "probe-3", "action-1".
	counters map[string]int
}

// Options configure a new or resumed session.
type Options struct {
	Runbook *runbook.Runbook
	Target  *target.Target
	// Dir is the journal directory (created if missing).
	Dir string
	// Actor opens or resumes the incident.
	Actor Actor
	// Drill, when set, marks a practice incident.
	Drill *Drill
	// Version is steady's version, recorded in the journal.
	Version string
	// Approval is the two-person rule: which confirmed plans wait for a
	// second operator. On resume the stricter of this and the journal's
	// applies.
	Approval Approval
	// Now overrides the clock (tests).
	Now func() time.Time
	// ID overrides the generated incident id (tests).
	ID string
	// Follows, for a new incident, links the one it continues.
	Follows *Link
	// Runbooks is the directory of runbooks besides the built-in ones,
	// where related runbooks are looked up.
	Runbooks string
}

// ErrForbidden is returned when an actor's role does not allow an intent.
var ErrForbidden = errors.New("not allowed")

// ErrAlreadyClosed is returned by CloseIncident when the incident was
// closed before (by this client or another).
var ErrAlreadyClosed = errors.New("the incident is already closed")

// NewID returns a new incident id: the UTC time and a random suffix.
func NewID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return "inc-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Open starts a new incident with a new journal in o.Dir.
func Open(o Options) (*Session, error) {
	if o.Runbook == nil {
		return nil, errors.New("open incident: no runbook")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	id := o.ID
	if id == "" {
		id = NewID(now())
	}
	j, err := CreateJournal(filepath.Join(o.Dir, id+".jsonl"))
	if err != nil {
		return nil, err
	}
	s := newSession(o, j)
	host, _ := os.Hostname()
	desc, prof := "no target", ""
	if o.Target != nil {
		desc = o.Target.String()
		prof = o.Target.Config().Profile.Origin()
	}
	_, err = s.Append(o.Actor, TypeOpened, Opened{
		ID: id, Runbook: o.Runbook.Name, RunbookFile: o.Runbook.File, RunbookHash: o.Runbook.Hash,
		Title: o.Runbook.Title(), Severity: o.Runbook.Meta.Severity, TTR: o.Runbook.Meta.EstimatedTTR,
		Target: desc, Profile: prof, Approval: stricter(o.Approval, ""), Host: host, Version: o.Version, Drill: o.Drill, Head: true, Follows: o.Follows,
	})
	if err != nil {
		j.Close()
		return nil, err
	}
	return s, nil
}

func newSession(o Options, j *Journal) *Session {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	scrub := &secret.Scrubber{}
	if o.Target != nil {
		scrub = o.Target.Scrubber
	}
	return &Session{
		rb: o.Runbook, runbooks: o.Runbooks, target: o.Target, journal: j, scrub: scrub, now: now,
		state: newState(o.Runbook), subs: map[*Subscription]struct{}{}, cancels: map[string]context.CancelFunc{},
		finished: map[string]chan struct{}{}, unrecorded: map[string]actions.Outcome{}, plans: map[string]actions.Plan{},
		counters: map[string]int{},
	}
}

// Runbook returns the incident's runbook.
func (s *Session) Runbook() *runbook.Runbook { return s.rb }

// Target returns the systems the incident works on.
func (s *Session) Target() *target.Target { return s.target }

// JournalPath returns the journal's file name.
func (s *Session) JournalPath() string { return s.journal.Path() }

// Head returns the journal's last event: what a postmortem quotes to pin
// the journal down.
func (s *Session) Head() Head { return s.journal.Head() }

// ID returns the incident id.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.Incident.ID
}

// State returns a snapshot of the incident.
func (s *Session) State() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.clone()
}

// Now returns the session's clock.
func (s *Session) Now() time.Time { return s.now() }

// Append records an event: it scrubs secrets from data, writes and syncs
// the journal line, folds it into the state and only then tells the
// subscribers. The event as recorded is returned.
func (s *Session) Append(actor Actor, typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	// Scrubbed for the journal (and so for every screen and report that
	// reads it). What an action carries out is the plan as made, which
	// PlanAction keeps aside: a secret is never masked inside it.
	raw = s.scrub.ScrubJSON(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Event{}, errors.New("the incident session is closed")
	}
	e, err := s.journal.Append(Event{Time: s.now().UTC(), Actor: actor, Type: typ, Data: raw})
	if err != nil {
		var we *WriteError
		if errors.As(err, &we) {
			s.recordFailure(we)
		}
		return Event{}, err
	}
	s.state.apply(e, s.rb)
	for sub := range s.subs {
		sub.push(e)
	}
	return e, nil
}

// JournalFailure says that the journal refused events: what happens from
// the first of them on is not, or not wholly, in the record.
type JournalFailure struct {
	// Since is when the first event was refused.
	Since time.Time
	// Lost counts the events refused.
	Lost int
	// Err is the latest refusal.
	Err *WriteError
}

func (f *JournalFailure) Error() string {
	return fmt.Sprintf("the journal could not record %d event(s) since %s: %v", f.Lost, f.Since.Format("15:04:05"), f.Err)
}

// recordFailure notes an event the journal refused and wakes every
// subscriber, so each screen says so at once. Called with s.mu held.
func (s *Session) recordFailure(we *WriteError) {
	if s.failure == nil {
		s.failure = &JournalFailure{Since: s.now()}
	}
	s.failure.Lost++
	s.failure.Err = we
	for sub := range s.subs {
		sub.wake()
	}
}

// JournalFailure returns what the journal refused so far, or nil when it
// recorded every event.
func (s *Session) JournalFailure() *JournalFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failure == nil {
		return nil
	}
	f := *s.failure
	return &f
}

// Join records an actor arriving (a new terminal or SSH session).
func (s *Session) Join(a Actor) error {
	_, err := s.Append(a, TypeJoined, struct{}{})
	return err
}

// Leave records an actor leaving.
func (s *Session) Leave(a Actor) error {
	_, err := s.Append(a, TypeLeft, struct{}{})
	return err
}

// Tick ticks or unticks a manual item.
func (s *Session) Tick(a Actor, item string, checked bool) error {
	if err := s.allow(a, Tick); err != nil {
		return err
	}
	it := s.rb.Item(item)
	if it == nil {
		return fmt.Errorf("no item %q", item)
	}
	_, err := s.Append(a, TypeTicked, Ticked{Item: item, Checked: checked})
	return err
}

// Skip marks an item skipped; a reason is required.
func (s *Session) Skip(a Actor, item, reason string) error {
	if err := s.allow(a, SkipItem); err != nil {
		return err
	}
	if s.rb.Item(item) == nil {
		return fmt.Errorf("no item %q", item)
	}
	if len(bytes.TrimSpace([]byte(reason))) == 0 {
		return errors.New("skipping needs a reason")
	}
	_, err := s.Append(a, TypeSkipped, Skipped{Item: item, Reason: reason})
	return err
}

// Note adds a note to an item ("" for the incident).
func (s *Session) Note(a Actor, item, text string) error {
	if err := s.allow(a, WriteNote); err != nil {
		return err
	}
	if item != "" && s.rb.Item(item) == nil {
		return fmt.Errorf("no item %q", item)
	}
	if len(bytes.TrimSpace([]byte(text))) == 0 {
		return errors.New("empty note")
	}
	_, err := s.Append(a, TypeNoted, Noted{Item: item, Text: text})
	return err
}

// CloseIncident records that the incident is over. Operators only; it is
// refused while an action runs. The session stays usable (other clients
// see the incident closed) until Shutdown.
func (s *Session) CloseIncident(a Actor, summary string) error {
	if err := s.allow(a, CloseInc); err != nil {
		return err
	}
	st := s.State()
	if st.Ended != nil {
		return ErrAlreadyClosed
	}
	if running := st.RunningActions(); len(running) > 0 {
		return fmt.Errorf("%s is still running; wait for it or cancel it before closing", running[0].Action)
	}
	_, err := s.Append(a, TypeClosed, Closed{Summary: summary})
	return err
}

// Close ends the incident: it records the closing event (unless a client
// closed the incident already, whose summary then stands), waits for
// running probes and actions to finish, and closes the journal.
func (s *Session) Close(a Actor, summary string) error {
	if err := s.CloseIncident(a, summary); err != nil && !errors.Is(err, ErrAlreadyClosed) {
		return err
	}
	return s.Shutdown()
}

// Shutdown stops the session without closing the incident (it can be
// resumed): running probes and actions are cancelled and awaited, then the
// journal is closed. A closed incident's journal is sealed first: its last
// event says that nothing may follow, and its head is final.
func (s *Session) Shutdown() error {
	s.mu.Lock()
	for _, cancel := range s.cancels {
		cancel()
	}
	s.mu.Unlock()
	s.runs.Wait()
	s.mu.Lock()
	open := !s.closed
	s.mu.Unlock()
	var sealErr error
	if st := s.State(); open && st.Ended != nil && !st.Sealed {
		_, sealErr = s.Append(System, TypeSealed, Sealed{Events: st.LastSeq})
		if errors.Is(sealErr, ErrSealed) {
			sealErr = nil
		}
	}
	s.mu.Lock()
	s.closed = true
	for sub := range s.subs {
		sub.close()
	}
	s.subs = map[*Subscription]struct{}{}
	s.mu.Unlock()
	if err := s.journal.Close(); err != nil {
		return err
	}
	return sealErr
}

// newRunID returns the next id for a probe or action run. Ids are short
// and count up within an incident, so people can say "action-2" aloud.
func (s *Session) newRunID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startCounter(prefix)
	s.counters[prefix]++
	return fmt.Sprintf("%s-%d", prefix, s.counters[prefix])
}

// nextRunID is the id newRunID would hand out next, without taking it.
func (s *Session) nextRunID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startCounter(prefix)
	return fmt.Sprintf("%s-%d", prefix, s.counters[prefix]+1)
}

// startCounter sets a prefix's counter on first use; s.mu is held.
func (s *Session) startCounter(prefix string) {
	if _, ok := s.counters[prefix]; !ok {
		// Continue after the runs a resumed journal already holds.
		switch prefix {
		case "probe":
			s.counters[prefix] = len(s.state.Probes)
		case "action":
			s.counters[prefix] = len(s.state.Actions)
		}
	}
}
