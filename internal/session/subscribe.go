package session

import "sync"

// maxQueued bounds the events waiting for one subscriber. A subscriber
// that falls this far behind loses the oldest and is told it lagged; it
// then re-reads the state, which is complete regardless.
const maxQueued = 4096

// Subscription delivers every event appended after Subscribe, in order,
// without ever making the journal wait for a slow reader.
type Subscription struct {
	// C receives a value whenever events are waiting; call Next to take them.
	C <-chan struct{}

	signal chan struct{}
	mu     sync.Mutex
	queue  []Event
	lagged bool
	done   bool
	s      *Session
}

// Subscribe starts a subscription. Close it when done.
func (s *Session) Subscribe() *Subscription {
	sig := make(chan struct{}, 1)
	sub := &Subscription{C: sig, signal: sig, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sub.done = true
		close(sig)
		return sub
	}
	s.subs[sub] = struct{}{}
	return sub
}

func (sub *Subscription) push(e Event) {
	sub.mu.Lock()
	if sub.done {
		sub.mu.Unlock()
		return
	}
	sub.queue = append(sub.queue, e)
	if over := len(sub.queue) - maxQueued; over > 0 {
		sub.queue = append([]Event(nil), sub.queue[over:]...)
		sub.lagged = true
	}
	sub.mu.Unlock()
	select {
	case sub.signal <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// wake tells the subscriber to look again without an event: something it
// shows besides the events changed (the journal refused a write).
func (sub *Subscription) wake() {
	select {
	case sub.signal <- struct{}{}:
	default:
	}
}

// Next returns the events waiting, oldest first, and whether some were
// dropped because the subscriber fell too far behind. ok is false once the
// session has shut down and nothing is left.
func (sub *Subscription) Next() (events []Event, lagged bool, ok bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	events, lagged = sub.queue, sub.lagged
	sub.queue, sub.lagged = nil, false
	return events, lagged, !(sub.done && len(events) == 0)
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.s.mu.Lock()
	delete(sub.s.subs, sub)
	sub.s.mu.Unlock()
	sub.close()
}

func (sub *Subscription) close() {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.done {
		return
	}
	sub.done = true
	close(sub.signal)
}
