package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"steady/internal/report"
	"steady/internal/session"
	"steady/internal/visible"
)

func newReportCmd() *cobra.Command {
	var format, out, output string
	cmd := &cobra.Command{
		Use:   "report JOURNAL",
		Short: "Write the postmortem checklist of an incident journal (Markdown or JSON)",
		Long: `Write the postmortem's verification checklist from an incident journal:
header (runbook, severity, start, end, duration against the estimated TTR,
operators), open items, symptoms observed, root-cause verdicts, each
diagnosis step with its probe evidence, each action with its plan, who
confirmed it, its output and outcome, the verification list with who ticked
what and when, prevention follow-ups, escalations, notes and the timeline.

The journal's hash chain is checked first; the report says whether it held
and gives the journal's head (SEQ:HASH) to quote in the postmortem. A
journal that does not verify still gets its report, which says so at the
top, and the exit status is 1.
--output RUN prints the whole output of one action (the report keeps the
last lines only).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd, args[0], format, out, output)

		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&output, "output", "", "print the whole output of one action run (e.g. action-2)")
	cmd.AddCommand(newReportVerifyCmd())
	return cmd
}

// runReport writes the postmortem of the journal at path in format to out
// (standard output for "" or "-"), or prints one action's whole output.
func runReport(cmd *cobra.Command, path, format, out, output string) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	events, info, err := session.ReadEvents(bytes.NewReader(data))
	if err != nil {
		return exitf(exitFound, "%s: %v (run `steady report verify %s`)", path, err, path)
	}
	if len(events) == 0 || events[0].Type != session.TypeOpened {
		return exitf(exitUsage, "%s is not an incident journal", path)
	}
	if output != "" {
		return printOutput(cmd, events, output)
	}
	v, err := session.VerifyFile(path, nil)
	if err != nil {
		return exitf(exitUsage, "%s: %v", path, err)
	}
	integrity := report.IntegrityOf(v)
	if info.Truncated {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s ends in an incomplete line; the report covers the complete events\n", path)
	}
	rb, err := session.LoadRunbookFor(path, l.Runbooks, known())
	if err != nil {
		return exitf(exitUsage, "the incident's runbook: %v", err)
	}
	var opened session.Opened
	_ = events[0].Decode(&opened)
	if opened.RunbookHash != "" && opened.RunbookHash != rb.Hash {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: runbook %s changed since the incident; items are matched by id\n", rb.Name)
	}
	text, err := renderReport(report.Build(rb, events, integrity, path), format)
	if err != nil {
		return err
	}
	if err := emitReport(cmd, out, text); err != nil {
		return err
	}
	if !v.OK() {
		// The report is written all the same, saying so at its top:
		// the postmortem needs it, and needs to know.
		return exitf(exitFound, "%s does not verify (%s): the report says so; `steady report verify %s` lists the problems", path, v.Summary(), path)
	}
	return nil
}

// renderReport is the report as Markdown or JSON.
func renderReport(rep *report.Report, format string) ([]byte, error) {
	switch format {
	case "md", "markdown":
		return []byte(rep.Markdown()), nil
	case "json":
		text, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(text, '\n'), nil
	}
	return nil, exitf(exitUsage, "--format must be md or json, not %q", format)
}

// emitReport writes the report to the file out, or to standard output.
func emitReport(cmd *cobra.Command, out string, text []byte) error {
	if out == "" || out == "-" {
		_, err := cmd.OutOrStdout().Write(text)
		return err
	}
	if err := os.WriteFile(out, text, 0o644); err != nil {
		return exitf(exitUsage, "write report: %v", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
	return nil
}

func printOutput(cmd *cobra.Command, events []session.Event, run string) error {
	found := false
	for _, e := range events {
		switch e.Type {
		case session.TypeActionPlanned:
			var d session.ActionPlanned
			if e.Decode(&d) == nil && d.Run == run {
				found = true
			}
		case session.TypeActionOutput:
			var d session.ActionOutput
			if e.Decode(&d) == nil && d.Run == run {
				for _, l := range d.Lines {
					fmt.Fprintln(cmd.OutOrStdout(), visible.Text(l.Text))
				}
			}
		}
	}
	if !found {
		return exitf(exitUsage, "no action run %q in this journal", run)
	}
	return nil
}

func newReportVerifyCmd() *cobra.Command {
	var head string
	cmd := &cobra.Command{
		Use:   "verify JOURNAL",
		Short: "Check a journal: name every altered, removed or damaged line, and a cut-short or rewritten end",
		Long: `Check that the incident journal is as steady wrote it: every line exactly
as written and carrying the SHA-256 of its content and of the line before,
and its end (the head: sequence number and hash of its last event) as the
head file beside it records it. A journal cut short says "truncated after
event N"; one whose events differ from its head says "rewritten".

The head file is kept by the same hand as the journal: whoever rewrites
both goes unseen by it. --head SEQ:HASH holds the journal against a head
kept elsewhere, such as the one pasted into the postmortem when the
incident closed (a prefix of the hash of 8 digits or more will do).

Exit 0 when everything holds, 1 otherwise, 2 when the file cannot be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			var anchor *session.Head
			if head != "" {
				h, err := session.ParseHead(head)
				if err != nil {
					return exitf(exitUsage, "--head: %v", err)
				}
				anchor = &h
			}
			v, err := session.VerifyFile(path, anchor)
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			w := cmd.OutOrStdout()
			for _, p := range v.Problems {
				if p.Line > 0 {
					fmt.Fprintf(w, "%s:%d: %s\n", path, p.Line, p.Msg)
				} else {
					fmt.Fprintf(w, "%s: %s\n", path, p.Msg)
				}
			}
			if v.More > 0 {
				fmt.Fprintf(w, "%s: and %d more problems after these\n", path, v.More)
			}
			if v.Tail > 0 {
				fmt.Fprintf(w, "%s: note: it ends in an incomplete line of %d bytes, a write cut short when steady or the machine stopped; resuming drops it\n", path, v.Tail)
			}
			for _, n := range v.Notes {
				fmt.Fprintf(w, "%s: note: %s\n", path, n)
			}
			fmt.Fprintf(w, "%s: %s\n", path, v.Summary())
			if !v.OK() {
				return silentExit(exitFound)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "hold the journal against this head (SEQ:HASH), kept elsewhere")
	return cmd
}
