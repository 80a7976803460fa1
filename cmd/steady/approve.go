package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"steady/internal/config"
	"steady/internal/session"
)

type approveFlags struct {
	incident, confirm, reason string
	reject                    bool
	wait                      time.Duration
}

func newApproveCmd() *cobra.Command {
	var f approveFlags
	cmd := &cobra.Command{
		Use:   "approve RUN",
		Short: "Approve (or reject) a destructive plan another operator confirmed: the two-person rule",
		Long: `Under the incident's two-person rule (actions.approval, or serve.approval when
serving: destructive or all), a plan confirmed by one operator waits for a
second, different one. On a screen they press enter on the [appr] item;
headless, they run steady approve with the plan's run id and its confirm
phrase, or --reject with a reason.

The decision is handed to the steady that holds the incident (a waiting
"steady act … --yes", "steady run" or "steady serve"), which checks it
(another operator, the right phrase, the plan still as it was) and journals
it with both names; the action then starts there. The approver is
steady.yaml's operator, else the OS user.

Exit status: 0 when the decision was taken (the action started, or was
rejected); 1 when it was not accepted or nobody picked it up in time; 2 for
bad flags.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runApprove(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.incident, "incident", "", "the incident (id in the journal directory, or a journal file; default the latest unfinished)")
	fl.StringVar(&f.confirm, "confirm", "", "the plan's confirm phrase, typed exactly (yes for a plan without one)")
	fl.BoolVar(&f.reject, "reject", false, "reject the plan instead (needs --reason)")
	fl.StringVar(&f.reason, "reason", "", "why it is rejected (journaled)")
	fl.DurationVar(&f.wait, "wait", 30*time.Second, "how long to wait for the steady holding the incident to take the decision")
	return cmd
}

func runApprove(cmd *cobra.Command, run string, f approveFlags) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if f.reject && strings.TrimSpace(f.reason) == "" {
		return exitf(exitUsage, "--reject needs --reason: why the plan must not run")
	}
	if !f.reject && f.confirm == "" {
		return exitf(exitUsage, "approving needs --confirm with the plan's confirm phrase (or --reject --reason …)")
	}
	path, err := incidentJournal(l, f.incident)
	if err != nil {
		return err
	}
	events, _, err := session.ReadJournal(path)
	if err != nil {
		return exitf(exitUsage, "--incident: %v", err)
	}
	a := session.Fold(nil, events).Action(run)
	if a == nil {
		return exitf(exitUsage, "no action %s in %s", run, path)
	}
	if !a.AwaitingApproval() {
		return exitf(exitFound, "%s (%s) is not awaiting approval: %s", a.Action, run, a.StateText())
	}
	me := session.Actor{Name: operatorName(&l.Config), Via: "cli", Role: session.Operator}
	if strings.EqualFold(me.Name, a.ConfirmedBy.Name) {
		return exitf(exitFound, "%s confirmed %s: a second, different operator approves it", a.ConfirmedBy, run)
	}
	printAwaiting(w, a)
	phrase := f.confirm
	if phrase == "yes" && a.Plan.ConfirmPhrase == "" {
		phrase = ""
	}
	req := session.ApprovalRequest{Run: run, Approver: me, Reject: f.reject, Phrase: phrase, Reason: strings.TrimSpace(f.reason)}
	handed := time.Now()
	file, err := session.HandIn(path, req)
	if err != nil {
		return exitf(exitFound, "hand in the decision: %v", err)
	}
	verb := "approval"
	if f.reject {
		verb = "rejection"
	}
	fmt.Fprintf(w, "\nHanded in the %s as %s; waiting for the steady holding the incident to take it…\n", verb, me.Name)
	deadline := time.Now().Add(f.wait)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		if done, err := decisionTaken(w, path, run, me, handed); done {
			return err
		}
	}
	if _, err := os.Stat(file); err == nil {
		_ = os.Remove(file)
		return exitf(exitFound, "nobody took the decision within %s: no steady holds the incident (a waiting `steady act … --yes`, `steady run` or `steady serve`)", f.wait)
	}
	return exitf(exitFound, "the decision was taken but not recorded within %s; see the journal %s", f.wait, path)
}

// incidentJournal is the journal --incident names (a path, or an incident
// id in the journal dir), else the latest unfinished incident's.
func incidentJournal(l *config.Loaded, incident string) (string, error) {
	switch {
	case incident == "":
		inf, ok := session.LatestUnfinished(l.JournalDir)
		if !ok {
			return "", exitf(exitUsage, "no unfinished incident in %s: give --incident", l.JournalDir)
		}
		return inf.Path, nil
	case !strings.HasSuffix(incident, ".jsonl") && !strings.ContainsRune(incident, filepath.Separator):
		return filepath.Join(l.JournalDir, incident+".jsonl"), nil
	}
	return incident, nil
}

// printAwaiting shows the plan awaiting approval, exactly as it will run.
func printAwaiting(w io.Writer, a *session.ActionRun) {
	fmt.Fprintf(w, "%s — %s\n  %s, confirmed by %s at %s\n", a.Action, a.Plan.Title, a.Plan.Summary, a.ConfirmedBy, a.ConfirmedAt.UTC().Format("15:04:05 UTC"))
	for i, st := range a.Plan.Steps {
		fmt.Fprintf(w, "  %d. [%s] %s\n", i+1, st.Kind, st.Text)
	}
	if a.Override != "" {
		fmt.Fprintf(w, "  guard overridden: %q\n", a.Override)
	}
}

// decisionTaken reads the journal again: done once the decision handed in
// was recorded (err nil) or refused, or the action no longer awaits it.
func decisionTaken(w io.Writer, path, run string, me session.Actor, handed time.Time) (done bool, _ error) {
	events, _, err := session.ReadJournal(path)
	if err != nil {
		return false, nil
	}
	st := session.Fold(nil, events)
	now := st.Action(run)
	switch {
	case now.ApprovedBy != nil:
		fmt.Fprintf(w, "Approved by %s: %s started.\n", now.ApprovedBy, now.Action)
		return true, nil
	case now.RejectedBy != nil:
		fmt.Fprintf(w, "Rejected by %s: %s will not run.\n", now.RejectedBy, now.Action)
		return true, nil
	case !now.AwaitingApproval():
		return true, exitf(exitFound, "%s is no longer awaiting approval: %s", run, now.StateText())
	}
	for i := len(st.Notes) - 1; i >= 0; i-- {
		if n := st.Notes[i]; strings.Contains(n.Text, "a decision on "+run) && strings.Contains(n.Text, me.Name) && n.At.After(handed) {
			return true, exitf(exitFound, "the decision was not accepted: %s", n.Text)
		}
	}
	return false, nil
}
