package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"
)

// dialogKind names a dialog, so the root (and tests) can tell them apart.
type dialogKind string

const (
	dialogParams   dialogKind = "params"
	dialogConfirm  dialogKind = "confirm"
	dialogNote     dialogKind = "note"
	dialogSkip     dialogKind = "skip"
	dialogEscalate dialogKind = "escalate"
	dialogQuit     dialogKind = "quit"
	dialogCancel   dialogKind = "cancel"
	dialogClose    dialogKind = "close"
	dialogApprove  dialogKind = "approve"
)

// dialog is a modal step: a huh form embedded as a child of the root, with
// a title and scrollable context above it (the plan being confirmed, the
// item being skipped). The form owns its keys until it completes or is
// aborted; the dialog then hands the root the command to run.
type dialog struct {
	c       *common
	kind    dialogKind
	title   string
	context func(w int) string
	form    *huh.Form
	ctx     viewport.Model
	w, h    int
	// submit runs when the form completes; cancel when it is aborted.
	submit func() tea.Cmd
	cancel func() tea.Cmd
	// pending are the form's commands from updates the root did not ask
	// for (resizes); the root collects them after each message.
	pending []tea.Cmd
	// moveNow makes tab, shift+tab and enter move between text fields at
	// once, rather than through a message huh sends itself: keys typed
	// ahead at full speed then land in the field they were typed for.
	// Only for forms whose fields check nothing as they are left.
	moveNow bool
}

// takePending returns the commands waiting to run.
func (d *dialog) takePending() tea.Cmd {
	if len(d.pending) == 0 {
		return nil
	}
	cmd := tea.Batch(d.pending...)
	d.pending = nil
	return cmd
}

func newDialog(c *common, kind dialogKind, title string, context func(w int) string, groups ...*huh.Group) *dialog {
	km := huh.NewDefaultKeyMap()
	// esc backs out of a dialog; ctrl+c is the root's (it never reaches a
	// form), so it cannot abort one by accident of muscle memory.
	km.Quit = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	form := huh.NewForm(groups...).
		WithTheme(huhTheme(c.styles)).
		WithKeyMap(km).
		// The footer shows the dialog's keys; huh's own help line would
		// take room from the context.
		WithShowHelp(false).
		WithShowErrors(true)
	vp := viewport.New()
	return &dialog{c: c, kind: kind, title: title, context: context, form: form, ctx: vp}
}

// huhTheme adapts huh's theme to one client's styles: the colourless base
// theme on a colourless terminal, and buttons whose focus shows in text.
func huhTheme(s *Styles) huh.Theme {
	return huh.ThemeFunc(func(bool) *huh.Styles {
		var t *huh.Styles
		if s.Profile <= colorprofile.ASCII {
			t = huh.ThemeBase(s.Dark)
		} else {
			t = huh.ThemeCharm(s.Dark)
		}
		for _, f := range []*huh.FieldStyles{&t.Focused, &t.Blurred} {
			f.FocusedButton = s.ButtonFocused.MarginRight(1)
			f.BlurredButton = s.ButtonBlurred.MarginRight(1)
		}
		return t
	})
}

func (d *dialog) Init() tea.Cmd { return d.form.Init() }

func (d *dialog) setSize(w, h int) {
	d.w, d.h = w, h
	d.form.WithWidth(max(w-1, 10))
	d.layout()
}

// layout gives the form the room it needs and the context the rest. The
// form sizes its groups on a window size message, which an embedded form
// would otherwise only get when the terminal is resized; it gets the
// dialog's area instead, again whenever its content may have grown.
func (d *dialog) layout() {
	_, cmd := d.form.Update(tea.WindowSizeMsg{Width: d.w, Height: max(d.h-1, 1)})
	d.pending = append(d.pending, cmd)
	formH := visibleHeight(d.form.View())
	ctxH := max(d.h-1-formH-1, 0)
	d.ctx.SetWidth(d.w)
	d.ctx.SetHeight(ctxH)
	if d.context != nil {
		d.ctx.SetContent(d.context(max(d.w-1, 10)))
	}
}

// Update passes a message to the form. done is true once the form has
// completed or been aborted; cmd then carries the dialog's outcome.
func (d *dialog) Update(msg tea.Msg) (done bool, cmd tea.Cmd) {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(km, d.c.keys.PageUp):
			d.ctx.PageUp()
			return false, nil
		case key.Matches(km, d.c.keys.PageDown):
			d.ctx.PageDown()
			return false, nil
		}
	}
	if km, ok := msg.(tea.KeyPressMsg); ok && d.moveNow && d.movesNow(km) != 0 {
		if d.movesNow(km) < 0 {
			cmd = d.form.PrevField()
		} else {
			cmd = d.form.NextField()
		}
	} else {
		var m huh.Model
		m, cmd = d.form.Update(msg)
		if f, ok := m.(*huh.Form); ok {
			d.form = f
		}
	}
	switch d.form.State {
	case huh.StateCompleted:
		if d.submit != nil {
			return true, tea.Batch(cmd, d.submit())
		}
		return true, cmd
	case huh.StateAborted:
		if d.cancel != nil {
			return true, tea.Batch(cmd, d.cancel())
		}
		return true, cmd
	}
	if _, ok := msg.(tea.KeyPressMsg); ok {
		d.layout()
	}
	return false, cmd
}

// movesNow says where a key moves the focus at once: -1 back, 1 on, 0
// not (the form handles it). Tab and shift+tab move from any field; enter
// moves on from a text input, while in a choice it is the choice's own.
func (d *dialog) movesNow(k tea.KeyPressMsg) int {
	switch k.String() {
	case "shift+tab":
		return -1
	case "tab":
		return 1
	case "enter":
		if _, ok := d.form.GetFocusedField().(*huh.Input); ok {
			return 1
		}
	}
	return 0
}

// shortHelp returns the dialog's keys for the footer (huh's own help
// line is off, to leave the room to the context): how to choose in the
// focused field, how to move between fields, how to submit or leave.
func (d *dialog) shortHelp() []key.Binding {
	bind := func(k, help string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, help)) }
	var out []key.Binding
	switch d.form.GetFocusedField().(type) {
	case *huh.Confirm:
		out = append(out, bind("←/→", "choose"), bind("y/n", "yes/no"), bind("enter", "submit"))
	case *huh.Select[int], *huh.Select[string]:
		out = append(out, bind("↑/↓", "choose"), bind("enter", "submit"))
	default:
		out = append(out, bind("enter", "next/submit"))
	}
	out = append(out, bind("tab/shift+tab", "fields"), bind("esc", "cancel"), relabel(d.c.keys.PageDown, "scroll"))
	return out
}

// View draws the title, the context and the form in the dialog's area.
func (d *dialog) View() string {
	if d.w <= 0 || d.h <= 0 {
		return ""
	}
	parts := []string{paneTitle(d.c.styles, d.title, true, d.w)}
	if d.ctx.Height() > 0 && d.context != nil {
		parts = append(parts, d.ctx.View())
	}
	parts = append(parts, d.form.View())
	return strings.Join(parts, "\n")
}

func visibleHeight(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}
