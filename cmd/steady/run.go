package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"steady/internal/config"
	"steady/internal/session"
	"steady/internal/target"
	"steady/runbook"
	"steady/tui"
)

type runFlags struct {
	resume string
	fresh  bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [RUNBOOK]",
		Short: "Open an incident in the terminal UI (the default command)",
		Long: `Open an incident: the runbook (default ` + runbook.DefaultName + `) as a live checklist
against the configured PostgreSQL and Redis. Every change is journaled in
--journal-dir. When an unfinished incident exists there, steady offers to
resume it; --resume FILE resumes a given journal, --new always starts a new
incident. A journal that does not verify is never appended to: steady says
where it breaks and offers a new incident that links it.

Inside: arrows move, r runs the selected probe, R runs every diagnosis
probe, enter plans an action, space ticks an item, X closes the incident
with a summary, ? shows every key.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runIncident(cmd, args, f) },
	}
	f.add(cmd)
	return cmd
}

// add registers the flags of an incident on cmd: `steady run` and the root,
// which runs the same incident when no command is named.
func (f *runFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.resume, "resume", "", "resume the incident of this journal file")
	cmd.Flags().BoolVar(&f.fresh, "new", false, "start a new incident even when an unfinished one exists (one whose journal does not verify is linked from it)")
	cmd.MarkFlagsMutuallyExclusive("resume", "new")
}

// localActor is the person at this terminal.
func localActor(cfg *config.Config) session.Actor {
	name := cfg.Operator
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "operator"
	}
	return session.Actor{Name: name, Via: "local", Role: session.Operator}
}

func runIncident(cmd *cobra.Command, args []string, f runFlags) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if err := l.RequireTarget(); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	actor := localActor(&l.Config)
	t := target.New(&l.Config)
	defer t.Close()
	learnProfile(cmd.Context(), l, t, cmd.ErrOrStderr())

	start := chooseIncident(cmd, l, args, f)
	opts := session.Options{Target: t, Dir: l.JournalDir, Actor: actor, Version: version, Approval: session.Approval(l.Actions.Approval), Runbooks: l.Runbooks}
	var s *session.Session
	var rep *session.ResumeReport
	if start.resume != "" {
		if s, rep, err = start.resumeIncident(cmd, l, opts); err != nil {
			return err
		}
	}
	if s == nil {
		if s, err = start.openIncident(cmd, l, args, opts); err != nil {
			return err
		}
	}
	err = tui.Run(cmd.Context(), tui.Options{Session: s, Actor: actor, Resume: rep})
	return endIncident(cmd, s, err)
}

// incidentStart is how steady run begins: the journal to resume, or the
// damaged incident a new one continues.
type incidentStart struct {
	resume string
	// follows is the damaged incident a new one continues, followed its
	// journal; its runbook is the new one's unless another is named.
	follows  *session.Link
	followed string
}

// chooseIncident decides between resuming and a new incident: --resume, or
// the latest unfinished incident when the operator says so; a damaged one
// is continued by a new incident.
func chooseIncident(cmd *cobra.Command, l *config.Loaded, args []string, f runFlags) incidentStart {
	start := incidentStart{resume: f.resume}
	switch {
	case start.resume == "" && !f.fresh && len(args) == 0:
		if inf, ok := session.LatestUnfinished(l.JournalDir); ok {
			if askResume(cmd, inf) {
				start.resume = inf.Path
			} else if de := session.Damaged(inf.Path); de != nil {
				start.follows, start.followed = de.Link(), inf.Path
			}
		}
	case f.fresh:
		if inf, ok := session.LatestUnfinished(l.JournalDir); ok {
			if de := session.Damaged(inf.Path); de != nil {
				start.follows, start.followed = de.Link(), inf.Path
			}
		}
	}
	return start
}

// resumeIncident resumes the journal; a damaged one the operator chooses
// to continue leaves the session nil, for a new incident to follow it.
func (start *incidentStart) resumeIncident(cmd *cobra.Command, l *config.Loaded, opts session.Options) (*session.Session, *session.ResumeReport, error) {
	rb, err := session.LoadRunbookFor(start.resume, l.Runbooks, known())
	if err != nil {
		return nil, nil, exitf(exitUsage, "%v", err)
	}
	opts.Runbook = rb
	s, r, err := session.Resume(start.resume, opts)
	var de *session.DamagedError
	switch {
	case errors.As(err, &de) && offerFollow(cmd, de):
		start.follows, start.followed = de.Link(), start.resume
		return nil, nil, nil
	case errors.As(err, &de):
		return nil, nil, refuseDamaged(err, "steady run --new")
	case err != nil:
		return nil, nil, exitf(exitUsage, "resume: %v", err)
	}
	return s, &r, nil
}

// openIncident opens a new incident on the runbook named, or on the one of
// the incident it continues.
func (start *incidentStart) openIncident(cmd *cobra.Command, l *config.Loaded, args []string, opts session.Options) (*session.Session, error) {
	var rb *runbook.Runbook
	var err error
	if len(args) == 0 && start.followed != "" {
		rb, err = session.LoadRunbookFor(start.followed, l.Runbooks, known())
	} else {
		ref := ""
		if len(args) == 1 {
			ref = args[0]
		}
		rb, err = runbook.Load(ref, l.Runbooks, known())
	}
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	opts.Runbook, opts.Follows = rb, start.follows
	s, err := session.Open(opts)
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	if start.follows != nil {
		sayOpened(cmd.ErrOrStderr(), s, start.follows)
	}
	return s, nil
}

// endIncident shuts the session down and says where its journal is, how
// to resume it, and how to write its postmortem.
func endIncident(cmd *cobra.Command, s *session.Session, err error) error {
	state := s.State()
	if serr := s.Shutdown(); serr != nil && err == nil {
		err = serr
	}
	path := s.JournalPath()
	fmt.Fprintf(cmd.ErrOrStderr(), "Incident %s: journal %s\n", state.Incident.ID, path)
	printHead(cmd.ErrOrStderr(), s, state.Ended != nil)
	if state.Ended == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "Resume with: steady run --resume %s\n", path)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Postmortem:  steady report %s -o %s.md\n", path, strings.TrimSuffix(path, ".jsonl"))
	if err != nil && !errors.Is(err, context.Canceled) {
		return exitf(exitUsage, "%v", err)
	}
	return nil
}

// printHead gives the journal's head, to keep somewhere the journal's
// writer cannot reach (the postmortem, the incident ticket): only such a
// copy shows a journal rewritten together with its head file.
func printHead(w io.Writer, s *session.Session, closed bool) {
	head := s.Head()
	if closed {
		fmt.Fprintf(w, "Closed and sealed; journal head %s\n", head)
	} else {
		fmt.Fprintf(w, "Journal head: %s\n", head)
	}
	fmt.Fprintf(w, "  Paste it into the postmortem: `steady report verify --head %s %s` holds any copy of the journal against it.\n", head, s.JournalPath())
}

// offerFollow says where a journal that cannot be resumed breaks and, on
// an interactive terminal, offers a new incident that links it.
func offerFollow(cmd *cobra.Command, de *session.DamagedError) bool {
	if !term.IsTerminal(os.Stdin.Fd()) {
		return false
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%v.\nStart a new incident that links it? [Y/n] ", de)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true
	}
	return false
}

// askResume offers the latest unfinished incident on an interactive
// terminal; elsewhere a new incident starts and the old one is named.
func askResume(cmd *cobra.Command, inf session.Info) bool {
	desc := fmt.Sprintf("%s (%s, opened %s, %d events)", inf.ID, inf.Runbook, inf.Started.Local().Format("2006-01-02 15:04"), inf.Events)
	if !term.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: unfinished incident %s; starting a new one (resume it with --resume %s)\n", desc, inf.Path)
		return false
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "An unfinished incident exists: %s\nResume it? [Y/n] ", desc)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true
	}
	return false
}
