package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"steady/internal/plural"
	"steady/internal/target"
)

// A team that runs pgBackRest trusts its repository, its retention and
// its restore: backup_mode pgbackrest runs the configured stanza's backup
// (incremental unless actions.pgbackrest.type says otherwise), checks with
// `info` that a new backup without error is there, and has pgBackRest
// verify the repository's checksums where the installed version has the
// verify command. The journal records the backup's label.

// Facts of a pgBackRest plan.
const (
	factStanza      = "stanza"
	factPriorLabel  = "prior_label"
	factHasVerify   = "verify"
	pgbrInfoTimeout = 2 * time.Minute
)

// pgbrBackup is one backup of `pgbackrest info --output=json`.
type pgbrBackup struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	Error bool   `json:"error"`
	Info  struct {
		Size       int64 `json:"size"`
		Delta      int64 `json:"delta"`
		Repository struct {
			Size  int64 `json:"size"`
			Delta int64 `json:"delta"`
		} `json:"repository"`
	} `json:"info"`
	LSN struct {
		Start string `json:"start"`
		Stop  string `json:"stop"`
	} `json:"lsn"`
	Timestamp struct {
		Start int64 `json:"start"`
		Stop  int64 `json:"stop"`
	} `json:"timestamp"`
}

// stopped is when the backup finished.
func (b *pgbrBackup) stopped() time.Time { return time.Unix(b.Timestamp.Stop, 0) }

// took is how long the backup ran.
func (b *pgbrBackup) took() time.Duration {
	return time.Duration(b.Timestamp.Stop-b.Timestamp.Start) * time.Second
}

// pgbrInfo is one stanza of `pgbackrest info --output=json`.
type pgbrInfo struct {
	Name   string       `json:"name"`
	Backup []pgbrBackup `json:"backup"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

// Stanza status codes of pgbackrest info that mean there is no repository
// to back up into.
const (
	pgbrMissingStanzaPath = 1
	pgbrNoValidBackups    = 2
	pgbrMissingStanzaData = 3
)

// usable reports whether the stanza can take a backup.
func (i *pgbrInfo) usable() bool {
	return i.Status.Code == 0 || i.Status.Code == pgbrNoValidBackups
}

// latest is the newest backup, or nil.
func (i *pgbrInfo) latest() *pgbrBackup {
	if len(i.Backup) == 0 {
		return nil
	}
	return &i.Backup[len(i.Backup)-1]
}

// pgbrCommand is the configured pgbackrest command with args.
func pgbrCommand(env *Env, args ...string) string {
	cfg := env.Target.Config().Actions.PgBackRest
	cmd := cfg.Command
	if cmd == "" {
		cmd = "pgbackrest"
	}
	return target.Join(cmd, append([]string{"--stanza=" + cfg.Stanza}, args...)...)
}

// pgbrNotInstalled is a pgbackrest that could not be run at all.
type pgbrNotInstalled struct{ line, why string }

func (e *pgbrNotInstalled) Error() string { return e.line + ": " + e.why }

// runCapture runs a command line and returns its standard output; a
// failure carries its last line of error output.
func runCapture(ctx context.Context, env *Env, line string, timeout time.Duration) (string, target.Exit, error) {
	cfg := env.Target.Config()
	var stdout, lastErr strings.Builder
	exit, err := target.Run(ctx, target.Command{Line: line}, target.RunOptions{
		Timeout: timeout,
		Grace:   cfg.Actions.KillGrace.D(),
		OnLine: func(l target.Line) {
			if l.Stream == "stderr" {
				if t := strings.TrimSpace(l.Text); t != "" {
					lastErr.Reset()
					lastErr.WriteString(env.Target.Scrubber.Scrub(t))
				}
				return
			}
			stdout.WriteString(l.Text + "\n")
		},
	})
	if err != nil {
		return "", exit, err
	}
	if !exit.OK() {
		why := exit.String()
		if lastErr.Len() > 0 {
			why += ": " + lastErr.String()
		} else if s := strings.TrimSpace(stdout.String()); s != "" {
			why += ": " + lastLine(s)
		}
		if exit.Code == 127 {
			return stdout.String(), exit, &pgbrNotInstalled{line: line, why: why}
		}
		return stdout.String(), exit, errors.New(why)
	}
	return stdout.String(), exit, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// pgbackrestInfo runs `pgbackrest --stanza=S --output=json info`.
func pgbackrestInfo(ctx context.Context, env *Env) (*pgbrInfo, error) {
	line := pgbrCommand(env, "--output=json", "info")
	text, _, err := runCapture(ctx, env, line, pgbrInfoTimeout)
	if err != nil {
		return nil, err
	}
	var stanzas []pgbrInfo
	if err := json.Unmarshal([]byte(text), &stanzas); err != nil {
		return nil, fmt.Errorf("%s printed something that is not its JSON: %v", line, err)
	}
	if len(stanzas) == 0 {
		return nil, fmt.Errorf("%s listed no stanza", line)
	}
	return &stanzas[0], nil
}

// pgbackrestHasVerify reports whether the installed pgBackRest has the
// verify command (`help verify` fails on versions without it).
func pgbackrestHasVerify(ctx context.Context, env *Env) bool {
	cmd := env.Target.Config().Actions.PgBackRest.Command
	if cmd == "" {
		cmd = "pgbackrest"
	}
	_, _, err := runCapture(ctx, env, target.Join(cmd, "help", "verify"), 30*time.Second)
	return err == nil
}

// pgbackrestState is what the plan learnt of the stanza, for its
// preconditions and estimates.
type pgbackrestState struct {
	info      *pgbrInfo
	err       error
	hasVerify bool
}

// readPgBackRest learns the stanza's state without writing anything.
func readPgBackRest(ctx context.Context, env *Env) pgbackrestState {
	var st pgbackrestState
	if env.Target.Config().Actions.PgBackRest.Stanza == "" {
		st.err = errors.New("no stanza configured")
		return st
	}
	st.info, st.err = pgbackrestInfo(ctx, env)
	if st.err == nil {
		st.hasVerify = pgbackrestHasVerify(ctx, env)
	}
	return st
}

// preconditions are pgBackRest's guards, each with its fix.
func (st pgbackrestState) preconditions(env *Env) []Precondition {
	cfg := env.Target.Config().Actions.PgBackRest
	stanza := Precondition{Name: "pgBackRest stanza configured", Holds: cfg.Stanza != "", Detail: "stanza " + cfg.Stanza}
	if !stanza.Holds {
		stanza.Detail = "actions.pgbackrest.stanza is not set: name the stanza of this cluster (from pgbackrest.conf) in steady.yaml, or take a dump instead: --mode pg_dump"
		return []Precondition{stanza}
	}
	installed := Precondition{Name: "pgBackRest installed", Holds: true, Detail: "`" + pgbrCommand(env, "--output=json", "info") + "` ran"}
	repo := Precondition{Name: "pgBackRest stanza " + cfg.Stanza + " ready", Holds: true}
	var missing *pgbrNotInstalled
	switch {
	case errors.As(st.err, &missing):
		installed.Holds = false
		installed.Detail = missing.Error() + ": install pgBackRest (Debian: apt-get install pgbackrest) where actions.pgbackrest.command runs, or point that command at it (e.g. 'sudo -u postgres pgbackrest'); or take a dump instead: --mode pg_dump"
		return []Precondition{stanza, installed}
	case st.err != nil:
		repo.Holds = false
		repo.Detail = env.Target.Scrubber.Scrub(st.err.Error()) + ": check actions.pgbackrest.command and the stanza's pgbackrest.conf; or take a dump instead: --mode pg_dump"
	case st.info.Status.Code == pgbrMissingStanzaPath || st.info.Status.Code == pgbrMissingStanzaData:
		repo.Holds = false
		repo.Detail = fmt.Sprintf("stanza %s has no repository (%s): create it with `%s` as the repository's owner, and let archive_command push to it; or take a dump instead: --mode pg_dump",
			cfg.Stanza, st.info.Status.Message, pgbrCommand(env, "stanza-create"))
	case !st.info.usable():
		repo.Holds = false
		repo.Detail = fmt.Sprintf("stanza %s reports status %d (%s): `%s` says more; or take a dump instead: --mode pg_dump", cfg.Stanza, st.info.Status.Code, st.info.Status.Message, pgbrCommand(env, "check"))
	default:
		repo.Detail = fmt.Sprintf("status %s, %s", st.info.Status.Message, plural.Count(int64(len(st.info.Backup)), "backup", "backups"))
		if b := st.info.latest(); b != nil {
			repo.Detail += fmt.Sprintf(", the newest %s (%s, %s)", b.Label, b.Type, humanBytes(b.Info.Size))
		}
	}
	return []Precondition{stanza, installed, repo}
}

// estimate says what a pgBackRest backup of the configured type will cost.
func (st pgbackrestState) estimate(env *Env) string {
	typ := env.Target.Config().Actions.PgBackRest.Type
	if st.info == nil {
		return "unknown"
	}
	b := st.info.latest()
	if b == nil {
		return typ + " taken as full (the stanza has no backup yet): the whole cluster"
	}
	var same *pgbrBackup
	for i := len(st.info.Backup) - 1; i >= 0; i-- {
		if st.info.Backup[i].Type == typ {
			same = &st.info.Backup[i]
			break
		}
	}
	if same == nil {
		same = b
	}
	return fmt.Sprintf("%s since %s: copies what changed; the last %s backup took %s", typ, b.Label, same.Type, roundDuration(same.took()))
}

// planPgBackRest plans the stanza's backup, its check with info and its
// verification.
func planPgBackRest(ctx context.Context, env *Env, plan *Plan) error {
	cfg := env.Target.Config().Actions.PgBackRest
	st := readPgBackRest(ctx, env)
	typ := cfg.Type
	if typ == "" {
		typ = "incr"
	}
	plan.Facts[factStanza] = cfg.Stanza
	plan.Facts["type"] = typ
	plan.Steps = []Step{
		{Kind: StepCommand, Text: pgbrCommand(env, "--type="+typ, "backup"), Note: "the team's own backup of the whole cluster into the stanza's repository; pgBackRest checksums each file as it copies"},
		{Kind: StepCommand, Text: pgbrCommand(env, "--output=json", "info"), Note: "a new backup must be listed, without error; its label is recorded"},
	}
	if st.hasVerify {
		plan.Facts[factHasVerify] = "true"
		plan.Steps = append(plan.Steps, Step{Kind: StepCommand, Text: pgbrCommand(env, "--output=text", "--verbose", "verify"),
			Note: "reads the repository back: every file's checksum and size, every WAL segment; the stanza and the new backup must be valid"})
	} else {
		plan.Warnings = append(plan.Warnings, "this pgBackRest has no verify command: the backup is checked by its listing in info and pgBackRest's checksums while copying")
	}
	plan.Preconditions = append(plan.Preconditions, st.preconditions(env)...)
	prior := ""
	if st.info != nil {
		if b := st.info.latest(); b != nil {
			prior = b.Label
		}
	}
	plan.Facts[factPriorLabel] = prior
	if prior == "" && typ != "full" {
		plan.Warnings = append(plan.Warnings, "the stanza has no backup yet: pgBackRest takes this "+typ+" backup as full")
	}
	plan.Summary = fmt.Sprintf("pgBackRest %s backup of stanza %s (the cluster of %s), verified by pgBackRest; %s", typ, orNone(cfg.Stanza), env.Target.DBName(), st.estimate(env))
	plan.rests("stanza", orNone(cfg.Stanza))
	blocked := "none"
	for _, c := range plan.Preconditions {
		if !c.Holds {
			blocked = c.Name
		}
	}
	plan.rests("pgbackrest blocked by", blocked)
	return nil
}

// executePgBackRest runs the backup, finds it in info and verifies it.
func executePgBackRest(ctx context.Context, env *Env, plan *Plan, pl backupPayload, out Output) Outcome {
	started := time.Now()
	t := env.Target
	db := pl.Database
	stanza := pl.Stanza
	fail := func(status OutcomeStatus, summary string, err error) Outcome {
		o := Outcome{Status: status, ExitCode: -1, Summary: summary, Duration: time.Since(started)}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	lines := commandSteps(plan)
	if len(lines) < 2 {
		return fail(Failed, "the plan has no pgBackRest steps: plan the backup again", nil)
	}
	st := readPgBackRest(ctx, env)
	if refused := refusedNow(env, st.preconditions(env)); refused != nil {
		refused.Duration = time.Since(started)
		return *refused
	}
	before := map[string]bool{}
	for _, b := range st.info.Backup {
		before[b.Label] = true
	}
	exit, err := runCommand(ctx, env, out, target.Command{Line: lines[0]})
	if o := commandFailure(env, lines[0], exit, err, started); o != nil {
		return *o
	}
	say(env, out, "$ %s", lines[1])
	info, err := pgbackrestInfo(ctx, env)
	if err != nil {
		return fail(Failed, "the backup ran but `"+lines[1]+"` failed, so it is not verified", err)
	}
	b := info.latest()
	if b == nil || before[b.Label] {
		return fail(Failed, "the backup command succeeded but info lists no new backup of stanza "+stanza+": NOT counted as a verified backup", nil)
	}
	if b.Error {
		return fail(Failed, "pgBackRest lists the new backup "+b.Label+" with errors (a file changed or failed its checksum while copying): NOT counted as a verified backup; `"+pgbrCommand(env, "info", "--set="+b.Label)+"` says which", nil)
	}
	say(env, out, "new backup %s (%s): %s of the cluster, %s copied into the repository", b.Label, b.Type, humanBytes(b.Info.Size), humanBytes(b.Info.Repository.Delta))
	verified := "pgBackRest's checksums while copying, and info"
	if len(lines) >= 3 {
		text, exit, err := runCapture(ctx, env, lines[2], t.Config().Actions.CommandTimeout.D())
		say(env, out, "$ %s", lines[2])
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			out.Line("stdout", t.Scrubber.Scrub(l))
		}
		if o := commandFailure(env, lines[2], exit, err, started); o != nil {
			o.Summary = "backup " + b.Label + " taken but its verification failed: " + o.Summary + "; NOT counted as a verified backup"
			return *o
		}
		if problem := verifyProblem(text, stanza, b.Label); problem != "" {
			return fail(Failed, "backup "+b.Label+" taken but pgBackRest verify found a problem: "+problem+"; NOT counted as a verified backup", nil)
		}
		verified = "pgbackrest verify"
	}
	say(env, out, "verified by %s", verified)
	return Outcome{
		Status:   Succeeded,
		Summary:  fmt.Sprintf("pgBackRest %s backup %s of stanza %s (the cluster of %s), %s, verified by %s", b.Type, b.Label, stanza, db, humanBytes(b.Info.Size), verified),
		Duration: time.Since(started),
		Artefacts: map[string]string{
			ArtefactKind: "backup", ArtefactMethod: modePgBackRest, ArtefactDatabase: db, ArtefactLabel: b.Label, ArtefactVerified: "true",
			ArtefactSize: strconv.FormatInt(b.Info.Size, 10), "stanza": stanza, "type": b.Type,
			"repository_size": strconv.FormatInt(b.Info.Repository.Size, 10), "lsn_start": b.LSN.Start, "lsn_stop": b.LSN.Stop,
		},
	}
}

// verifyProblem reads `pgbackrest verify --output=text --verbose`: the
// stanza's status must be ok and the backup's, where listed, valid. It
// returns what is wrong, or "". (verify exits 0 even when it finds
// problems; the text is what tells.)
func verifyProblem(text, stanza, label string) string {
	inStanza, status, backup := false, "", ""
	for _, l := range strings.Split(text, "\n") {
		s := strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(s, "stanza: "); ok {
			inStanza = v == stanza
			continue
		}
		if !inStanza {
			continue
		}
		if v, ok := strings.CutPrefix(s, "status: "); ok && status == "" {
			status = v
		}
		if strings.HasPrefix(s, "backup: "+label+",") {
			backup = s
		}
	}
	switch {
	case status == "":
		return "its report names no status for stanza " + stanza
	case status != "ok":
		return "stanza " + stanza + " status " + status
	case backup != "" && !strings.Contains(backup, "status: valid"):
		return backup
	}
	return ""
}
