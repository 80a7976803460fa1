package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"steady/internal/session"
)

// KeyMap is one client's key bindings. Bindings an actor's role may not
// use are disabled, so the help never offers an observer a key that would
// only be refused.
type KeyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	NextPane         key.Binding
	PrevPane         key.Binding

	Run    key.Binding
	RunAll key.Binding
	Enter  key.Binding
	// Replan makes a planned action's plan again; Discard puts it aside.
	Replan  key.Binding
	Discard key.Binding
	// Alternative plans the action the other way its plan offers first
	// (backup: the full dump instead of a scoped one).
	Alternative key.Binding
	Tick        key.Binding
	Note        key.Binding
	Skip        key.Binding
	Filter      key.Binding

	Causes   key.Binding
	Escalate key.Binding
	Ack      key.Binding
	Related  key.Binding
	// Close closes the incident (with a summary and a confirmation).
	Close key.Binding

	Help      key.Binding
	Back      key.Binding
	Quit      key.Binding
	Interrupt key.Binding
}

// DefaultKeyMap returns the key bindings for an actor of the given role.
func DefaultKeyMap(role session.Role) *KeyMap {
	k := &KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),

		Run:         key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run probe")),
		RunAll:      key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "run all diagnosis")),
		Enter:       key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "plan/confirm action")),
		Replan:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "plan again")),
		Discard:     key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "discard plan")),
		Alternative: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "plan another mode")),
		Tick:        key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "tick")),
		Note:        key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "note")),
		Skip:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),

		Causes:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cause board")),
		Escalate: key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "declare escalation")),
		Ack:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "acknowledge escalation")),
		Related:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "related runbooks")),
		Close:    key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "close incident")),

		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "cancel action / quit")),
	}
	if role != session.Operator {
		// Observers watch, tick and take notes; the session refuses the
		// rest, so the keys are not offered at all.
		for _, b := range []*key.Binding{&k.Run, &k.RunAll, &k.Skip, &k.Close, &k.Replan, &k.Discard, &k.Alternative, &k.Escalate, &k.Ack} {
			b.SetEnabled(false)
		}
		k.Enter.SetHelp("enter", "show plan")
		if role.May(session.Approve) {
			k.Enter.SetHelp("enter", "show plan / approve")
		}
		k.Interrupt.SetHelp("ctrl+c", "quit")
	}
	return k
}

// operatorOnly reports whether msg is one of the keys an observer is not
// offered.
func operatorOnly(msg tea.KeyPressMsg) bool {
	k := DefaultKeyMap(session.Operator)
	return key.Matches(msg, k.Run, k.RunAll, k.Skip, k.Close)
}

// fullHelp groups every binding in columns for the help page.
func (k *KeyMap) fullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.NextPane, k.Filter},
		{k.Run, k.RunAll, k.Enter, k.Replan, k.Discard, k.Alternative, k.Tick, k.Skip, k.Note},
		{k.Causes, k.Escalate, k.Ack, k.Related, k.Close},
		{k.Help, k.Back, k.Interrupt, k.Quit},
	}
}

// relabel returns a copy of b with its help description replaced, for
// keys whose meaning depends on what is selected.
func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}
