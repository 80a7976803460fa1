package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"steady/internal/config"
	"steady/internal/discover"
	"steady/internal/profile"
	"steady/internal/target"
)

type initFlags struct {
	yes, print, catalog, script bool
	output                      string
}

func newInitCmd() *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Learn your application's profile from Django itself and write it to steady.yaml",
		Long: `Learn the team's application: which models play the clinician, the shift,
the audit trail and the stored summary, with their tables and columns; which
status values count as worked (from the application's own calculator); the
constraints the models declare; the cache's key layout; the Celery task that
recalculates. steady then reads only this profile.

It runs one script through the manage command (` + "`<manage> shell`" + ` reading the script on
standard input, so it works through ` + "`docker compose exec -T web python manage.py`" + `).
The script reads Django's metadata and never connects to the database. When
Django cannot start, it falls back to the database catalog and marks every
role it guessed.

In a terminal it shows what it mapped, asks where two models could play one
role, and asks before writing. --yes writes without asking (roles with
several candidates take the first in the documented order, and it says so).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runInit(cmd, f) },
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.yes, "yes", "y", false, "write without asking (for scripts)")
	fl.BoolVar(&f.print, "print", false, "print the profile as YAML instead of writing it")
	fl.BoolVar(&f.catalog, "catalog", false, "skip Django and guess from the database catalog")
	fl.BoolVar(&f.script, "script", false, "print the discovery script and exit (to read it, or run it by hand)")
	fl.StringVarP(&f.output, "output", "o", "", "the file to write (default: --config, else ./"+config.DefaultFile+")")
	return cmd
}

func runInit(cmd *cobra.Command, f initFlags) error {
	out := cmd.OutOrStdout()
	if f.script {
		_, err := io.WriteString(out, discover.Script())
		return err
	}
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	interactive := !f.yes && !f.print && term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	if !f.yes && !f.print && !interactive {
		return exitf(exitUsage, "steady init needs a terminal to ask before writing; give --yes to write without asking, or --print to see the profile")
	}
	if l.Django.Manage == "" && l.DB == "" {
		return exitf(exitUsage, "%v", discover.ErrNoSource)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	t := target.New(&l.Config)
	defer t.Close()

	started := time.Now()
	p, rep, djangoErr, err := learnAsking(ctx, t, f.catalog, interactive)
	if errors.Is(err, errAborted) {
		return exitf(exitAborted, "aborted: nothing written")
	}
	report := cmd.ErrOrStderr()
	if f.yes || interactive {
		report = out
	}
	if djangoErr != nil {
		fmt.Fprintf(report, "Django could not start: %s\n", t.Scrubber.Scrub(djangoErr.Error()))
	}
	if err != nil {
		return exitf(exitFound, "%s", t.Scrubber.Scrub(err.Error()))
	}
	printReport(report, terminalWidth(report), &p, rep, time.Since(started))
	if errs := p.Validate(); len(errs) > 0 {
		fmt.Fprintf(report, "\nThe profile cannot be used as it is:\n  %s\n", strings.Join(errs, "\n  "))
		fmt.Fprintln(report, "Nothing written: fix the project (or write these keys by hand in steady.yaml), then run steady init again.")
		return silentExit(exitFound)
	}
	if f.print {
		b, err := yaml.Marshal(map[string]any{"profile": p})
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	return saveProfile(out, l, f, p, interactive)
}

// saveProfile writes the profile to --output, the configuration file, or
// steady.yaml; asking first when there is someone to ask.
func saveProfile(out io.Writer, l *config.Loaded, f initFlags, p profile.Profile, interactive bool) error {
	path := f.output
	if path == "" {
		path = l.File
	}
	if path == "" {
		path = config.DefaultFile
	}
	if interactive {
		ok := true
		if err := huh.NewConfirm().Title(fmt.Sprintf("Write this profile to %s?", path)).Affirmative("Write").Negative("Not now").Value(&ok).Run(); err != nil || !ok {
			fmt.Fprintln(out, "Nothing written.")
			return silentExit(exitAborted)
		}
	}
	if err := writeProfile(path, p); err != nil {
		return exitf(exitFound, "write %s: %v", path, err)
	}
	fmt.Fprintf(out, "\nWrote the profile to %s. Review the lines marked ~ (guesses); correct any key by hand, or run steady init again after a schema change.\n", path)
	return nil
}

// errAborted is the operator declining to choose.
var errAborted = errors.New("aborted")

// learnAsking learns the profile; when there is a terminal and choices to
// make, it asks them and learns again with the answers.
func learnAsking(ctx context.Context, t *target.Target, catalogOnly, interactive bool) (profile.Profile, *discover.Report, error, error) {
	var picks map[string]int
	chooser := func(role string, options []string) int { return picks[role] }
	p, rep, djangoErr, err := discover.Learn(ctx, t, nil, catalogOnly)
	if err == nil && interactive && len(rep.Choices) > 0 {
		if picks, err = askChoices(rep.Choices); err != nil {
			return p, rep, djangoErr, errAborted
		}
		p, rep, djangoErr, err = discover.Learn(ctx, t, chooser, catalogOnly)
	}
	return p, rep, djangoErr, err
}

// terminalWidth is the width of w when it is a terminal, else 100.
func terminalWidth(w io.Writer) int {
	width := 100
	if f, ok := w.(*os.File); ok && term.IsTerminal(f.Fd()) {
		if tw, _, err := term.GetSize(f.Fd()); err == nil && tw > 20 {
			width = tw
		}
	}
	return width
}

// askChoices asks, for each role several candidates could play, which one
// plays it.
func askChoices(choices []discover.Choice) (map[string]int, error) {
	picks := map[string]int{}
	var fields []huh.Field
	vals := make([]int, len(choices))
	for i, c := range choices {
		opts := make([]huh.Option[int], len(c.Options))
		for j, o := range c.Options {
			opts[j] = huh.NewOption(o, j)
		}
		vals[i] = c.Picked
		fields = append(fields, huh.NewSelect[int]().Title("Which plays "+c.Role+"?").Options(opts...).Value(&vals[i]))
	}
	if err := huh.NewForm(huh.NewGroup(fields...)).Run(); err != nil {
		return nil, err
	}
	for i, c := range choices {
		picks[c.Role] = vals[i]
	}
	return picks, nil
}

// printReport says what was mapped and how, what could not be, and what
// was chosen.
func printReport(w io.Writer, width int, p *profile.Profile, r *discover.Report, took time.Duration) {
	switch r.Source {
	case profile.SourceCatalog:
		fmt.Fprintf(w, "Guessed from the database catalog in %s: every role below is a guess (~), check each.\n\n", took.Round(10*time.Millisecond))
	default:
		fmt.Fprintf(w, "Learnt from Django (%s) in %s:\n\n", p.Project, took.Round(10*time.Millisecond))
	}
	keyW, valW := 0, 0
	for _, m := range r.Mapped {
		keyW = max(keyW, len(m.Key))
		valW = max(valW, min(len([]rune(m.Value)), 56))
	}
	for _, m := range r.Mapped {
		mark := " "
		if m.Guess {
			mark = "~"
		}
		line := fmt.Sprintf("%s %-*s  %-*s", mark, keyW, m.Key, valW, m.Value)
		// How it was learnt goes beside the value when the terminal has
		// room, else on a line of its own below it.
		if len([]rune(line))+2+len([]rune(m.How)) <= width {
			fmt.Fprintf(w, "%s  %s\n", line, m.How)
			continue
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		indent := strings.Repeat(" ", keyW+4)
		for _, l := range strings.Split(ansi.Wordwrap(m.How, max(width-len(indent), 20), ""), "\n") {
			fmt.Fprintln(w, indent+l)
		}
	}
	fmt.Fprintln(w, "\n~ mapped by name alone: worth a look before trusting it.")
	if len(r.Choices) > 0 {
		fmt.Fprintln(w, "\nRoles with more than one candidate:")
		for _, c := range r.Choices {
			fmt.Fprintf(w, "  %s: %s (%s); also: %s\n", c.Role, c.Options[c.Picked], c.Why, strings.Join(others(c), "; "))
		}
	}
	if len(r.Gaps) > 0 {
		fmt.Fprintln(w, "\nNot mapped:")
		for _, g := range r.Gaps {
			fmt.Fprintf(w, "  %s: %s\n", g.Key, g.Hint)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, x := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
}

func others(c discover.Choice) []string {
	var out []string
	for i, o := range c.Options {
		if i != c.Picked {
			out = append(out, o)
		}
	}
	return out
}

// writeProfile puts the profile under the profile key of the YAML file at
// path, keeping every other key (and its comments) as it was; the file is
// created when missing and replaced atomically.
func writeProfile(path string, p profile.Profile) error {
	var doc yaml.Node
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(bytes.TrimSpace(old)) > 0:
		if err := yaml.Unmarshal(old, &doc); err != nil {
			return fmt.Errorf("%s is not YAML: %w", path, err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s does not hold a mapping", path)
	}
	var value yaml.Node
	if err := value.Encode(p); err != nil {
		return err
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Value: "profile",
		HeadComment: "The application profile, learnt by `steady init` " + time.Now().UTC().Format(time.DateOnly) + ": every name of the application steady uses.\nCorrect any key by hand; `steady init` again after a schema change."}
	replaced := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "profile" {
			root.Content[i+1] = &value
			replaced = true
		}
	}
	if !replaced {
		root.Content = append(root.Content, key, &value)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// learnProfile gives a configuration with no profile in steady.yaml the
// team's own (discovered through the manage command and kept between
// runs, or guessed from the catalog), or the example application's, and
// says which on w.
func learnProfile(ctx context.Context, l *config.Loaded, t *target.Target, w io.Writer) {
	if l.ProfileGiven() {
		return
	}
	dir := discover.DefaultCacheDir
	if base, err := os.UserCacheDir(); err == nil {
		dir = base + "/steady/profiles"
	}
	o := discover.Auto(ctx, t, dir)
	l.Config.Profile = o.Profile
	fmt.Fprintln(w, o.Note)
}
