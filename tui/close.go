package tui

// Close ends the model's subscription to the session. A host that stops a
// program without the user quitting (an SSH client that disconnected, a
// server shutting down) calls it after the program has returned, so the
// session stops queueing events for a screen nobody sees. It is safe to
// call more than once.
func (m *Model) Close() { m.close() }
