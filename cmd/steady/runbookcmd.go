package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"steady/internal/mdterm"
	"steady/runbook"
)

func newRunbookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runbook",
		Short: "List, show and lint runbooks",
		Long: `Runbooks are Markdown files with YAML front matter. Sections are level-2
headings (Symptoms, Detection, Diagnosis Steps, Root Causes, Resolution
Steps, Verification, Prevention, Escalation); list items become checklist
items; a fenced block with the info string "steady" binds a step to a probe
or an action. steady has built-in runbooks and reads more from --runbooks DIR.`,
	}
	cmd.AddCommand(newRunbookListCmd(), newRunbookShowCmd(), newRunbookLintCmd())
	return cmd
}

func newRunbookListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in runbooks and those in --runbooks DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			entries, err := runbook.List(l.Runbooks)
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTITLE\tSOURCE")
			for _, e := range entries {
				src := e.File
				if strings.HasPrefix(src, "embedded:") {
					src = "built in"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Title, src)
			}
			return tw.Flush()
		},
	}
}

func newRunbookShowCmd() *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "show [NAME|FILE]",
		Short: "Render a runbook (default: " + runbook.DefaultName + ")",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			r, err := runbook.Load(ref, l.Runbooks, known())
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			if raw {
				// The runbook as written: front matter and steady blocks
				// kept, so a copy lints and binds as the original does.
				_, err := cmd.OutOrStdout().Write(r.Source)
				return err
			}
			out, err := renderMarkdown(r.Markdown(), cmd.OutOrStdout() == os.Stdout)
			if err != nil {
				return exitf(exitUsage, "render: %v", err)
			}
			fmt.Fprint(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&raw, "markdown", false, "print the runbook's Markdown as written (front matter and steady blocks included) instead of rendering it")
	return cmd
}

// renderMarkdown renders for the terminal: styled on a colour terminal,
// plain text otherwise (a pipe, NO_COLOR, TERM=dumb).
func renderMarkdown(md string, stdout bool) (string, error) {
	width := 100
	var st mdterm.Styles
	if stdout && term.IsTerminal(os.Stdout.Fd()) {
		if w, _, err := term.GetSize(os.Stdout.Fd()); err == nil && w > 20 {
			width = min(w, 120)
		}
		if os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" {
			plain := lipgloss.NewStyle()
			st = mdterm.Styles{Heading: plain.Bold(true).Foreground(lipgloss.Color("4")), Strong: plain.Bold(true), Emph: plain.Italic(true),
				Strike: plain.Strikethrough(true), Code: plain.Foreground(lipgloss.Color("6")), Link: plain.Underline(true),
				Quote: plain.Faint(true), Rule: plain.Faint(true), TableHeader: plain.Bold(true)}
		}
	}
	return mdterm.Render(md, mdterm.Options{Width: width, Styles: st}) + "\n", nil
}

func newRunbookLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint [FILE|NAME ...]",
		Short: "Check runbooks; print each problem as FILE:LINE: message and exit 1 if any",
		Long: `Check runbooks for unknown sections, unknown probe or action ids, bad front
matter, resolutions for causes that are not in the Root Causes table,
duplicate ids and malformed steady blocks. Each problem is printed as
FILE:LINE: message (hint). Without arguments every built-in runbook (and
those in --runbooks) is checked.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			refs := args
			if len(refs) == 0 {
				entries, err := runbook.List(l.Runbooks)
				if err != nil {
					return exitf(exitUsage, "%v", err)
				}
				for _, e := range entries {
					refs = append(refs, e.Name)
				}
			}
			bad := 0
			for _, ref := range refs {
				file, src, err := runbook.Read(ref, l.Runbooks)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				r, ps := runbook.Lint(file, src, known())
				if len(ps) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d sections, %d items, %d causes)\n", file, len(r.Sections), len(r.Items()), len(r.Causes))
					continue
				}
				bad++
				fmt.Fprintln(cmd.OutOrStdout(), ps.Error())
			}
			if bad > 0 {
				return silentExit(exitFound)
			}
			return nil
		},
	}
}
