package tui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"steady/internal/session"
)

// Options for one client of an incident (a local terminal or one SSH
// session).
type Options struct {
	Session *session.Session
	Actor   session.Actor
	// Resume is non-nil when the incident was resumed: its report is shown
	// first.
	Resume *session.ResumeReport
	// Drill, when not empty, shows a DRILL banner with this text (the
	// scenario's name).
	Drill string
	// Now is the clock (tests pin it); nil means time.Now.
	Now func() time.Time
}

// New returns the root model for one client. Its styles and keys are its
// own, built from the colour profile and background the program reports
// to it, so one process can serve many terminals at once. The model
// subscribes to the session; the subscription ends when the user quits
// or the session shuts down.
func New(o Options) tea.Model {
	return newModel(newCommon(context.Background(), o), o.Resume)
}

// Run runs the incident screen on the local terminal (in the alternate
// screen) until the user quits or ctx ends. The caller closes the session.
func Run(ctx context.Context, o Options, progOpts ...tea.ProgramOption) error {
	if o.Session == nil {
		return errors.New("tui: no incident session")
	}
	m := newModel(newCommon(ctx, o), o.Resume)
	defer m.close()
	// lipgloss detected the terminal's colour profile for os.Stdout when
	// the program started (inside tmux that runs `tmux info`); reuse it
	// rather than detect again before the first frame.
	opts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithColorProfile(lipgloss.Writer.Profile)}, progOpts...)
	_, err := tea.NewProgram(m, opts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
