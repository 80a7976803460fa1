package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"steady/internal/config"
	"steady/internal/serve"
	"steady/internal/session"
	"steady/internal/target"
	"steady/runbook"
)

// serveFlags are the options of `steady serve`.
type serveFlags struct {
	listen         string
	hostKey        string
	authorizedKeys string
	incident       string
	new            bool
	runbook        string
	force          bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the incident screen over SSH to the on-call team, with roles",
		Long: `Serve the incident screen over SSH: every responder runs
  ssh -t -p 2222 HOST
and lands in the same incident, live: a probe one of them starts shows up on
every screen, and every event is journaled with the SSH key's fingerprint.

The incident is --incident ID, else the latest unfinished one in the journal
directory (so a restarted server resumes it), else a new one; --new always
opens a new one.

Keys and roles: public keys only, from --authorized-keys (one per line, read
again whenever it changes):
  ssh-ed25519 AAAA... alice role=operator
  ssh-ed25519 AAAA... bob role=observer
The first comment word names the person in the journal (else the SSH user).
Operators run probes and actions; observers watch, tick manual items and take
notes. steady.yaml's serve.operators / serve.observers may also list names or
fingerprints (SHA256:...). Least privilege: any "observer" wins, and a key
nobody gave a role is an observer. The host key is created on first start
(ed25519, mode 0600); pin its .pub file in the team's known_hosts.

Limits (steady.yaml serve.*): max_sessions, idle_timeout (no key press),
max_timeout. Without a terminal (ssh -T) or with a command, a session gets one
line and exit status 2; refused for the limit or a stop, 75; ended for idle or
maximum time, 1.

SIGTERM, ctrl+c, or SIGHUP (the terminal that started it went away) stops
the server: while a destructive action runs (migrate,
flush-cache...) it waits for it, saying so in the log and on every screen;
a second signal, or --force, cancels it instead (the cancel is journaled).
Other running actions are cancelled, every responder reads a goodbye, and the
journal is closed with everything recorded; the incident stays open, to be
resumed.

The connection log (connects, refused keys with their fingerprint, roles,
limits, disconnects) goes to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, f) },
	}
	addServeFlags(cmd, &f)
	fl := cmd.Flags()
	fl.StringVar(&f.incident, "incident", "", "serve this incident (id in the journal directory, or a journal file)")
	fl.BoolVar(&f.new, "new", false, "open a new incident, even if an unfinished one exists")
	fl.StringVar(&f.runbook, "runbook", "", "runbook of a new incident (default "+runbook.DefaultName+")")
	fl.BoolVar(&f.force, "force", false, "on stop, cancel a running destructive action instead of waiting for it")
	return cmd
}

func runServe(cmd *cobra.Command, f serveFlags) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	if f.new && f.incident != "" {
		return exitf(exitUsage, "--new opens a new incident and --incident serves an existing one: give one of them")
	}
	o, logger, err := serveOptions(cmd, l)
	if err != nil {
		return err
	}
	o.Force = f.force
	errw := cmd.ErrOrStderr()

	// Listen before opening the incident: a taken port must not leave an
	// empty incident behind.
	if o.Listen == "" {
		o.Listen = serve.DefaultListen
	}
	ln, err := serve.Listen(o.Listen)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	defer ln.Close()
	o.Listener = ln

	t := target.New(&l.Config)
	defer t.Close()
	learnProfile(cmd.Context(), l, t, errw)
	// Whoever starts the server opens or resumes the incident; they are
	// not at a screen, so they leave it at once (only SSH clients are
	// online).
	opener := session.Actor{Name: operatorName(&l.Config), Via: "cli", Role: session.Operator}
	s, rep, err := openServed(l, f, opener, t, errw)
	if err != nil {
		return err
	}
	if err := s.Leave(opener); err != nil {
		_ = s.Shutdown()
		return exitf(exitFound, "record the incident in %s: %v", s.JournalPath(), err)
	}
	o.Session, o.Resume = s, rep

	srv, err := serve.New(o)
	if err != nil {
		_ = s.Shutdown()
		return exitf(exitUsage, "%v", err)
	}
	fmt.Fprintf(errw, "steady: serving incident %s on %s: connect with ssh -t -p %s HOST\n", s.ID(), srv.Addr(), portOf(srv.Addr().String()))

	ctx, stop := stopOnSignals(cmd.Context(), logger, srv)
	defer stop()
	serveErr := srv.Serve(ctx)
	if err := s.Shutdown(); err != nil {
		logger.Error("the journal could not be closed cleanly", "journal", s.JournalPath(), "error", err.Error())
		return exitf(exitFound, "close the journal %s: %v (check it with `steady report verify %s`)", s.JournalPath(), err, s.JournalPath())
	}
	logger.Info("journal closed", "journal", s.JournalPath(), "events", s.State().LastSeq, "head", s.Head().String())
	if serveErr != nil {
		return exitf(exitFound, "%v", serveErr)
	}
	st := s.State()
	if st.Ended != nil {
		fmt.Fprintf(errw, "steady: incident %s is closed; its journal is %s\n", s.ID(), s.JournalPath())
		printHead(errw, s, true)
		return nil
	}
	fmt.Fprintf(errw, "steady: incident %s is saved in %s; serve it again with `steady serve --incident %s`\n", s.ID(), s.JournalPath(), s.ID())
	printHead(errw, s, false)
	return nil
}

// serveOptions builds the server's options from steady.yaml and the
// --listen, --host-key and --authorized-keys flags, and checks the key file
// and the host key before anything else starts, so a mistake there costs
// nothing.
func serveOptions(cmd *cobra.Command, l *config.Loaded) (serve.Options, *slog.Logger, error) {
	o := serve.OptionsFromConfig(l.Config.Serve)
	for flag, dst := range map[string]*string{"listen": &o.Listen, "host-key": &o.HostKey, "authorized-keys": &o.AuthorizedKeys} {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			*dst = f.Value.String()
		}
	}
	if o.AuthorizedKeys == "" {
		return o, nil, exitf(exitUsage, "no authorized keys: give --authorized-keys FILE (or serve.authorized_keys in steady.yaml), one public key per line ending in role=operator or role=observer, e.g.\n  ssh-ed25519 AAAA... alice role=operator")
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	serve.RouteWishLog(logger)
	o.Logger = logger
	if _, err := serve.ReadAuthorizedKeys(o.AuthorizedKeys, o.Roles); err != nil {
		return o, nil, exitf(exitUsage, "%v", err)
	}
	if o.HostKey == "" {
		o.HostKey = serve.DefaultHostKey
	}
	hostKey, created, err := serve.LoadHostKey(o.HostKey)
	if err != nil {
		return o, nil, exitf(exitUsage, "%v", err)
	}
	if created {
		logger.Info("host key created", "file", o.HostKey, "fingerprint", gossh.FingerprintSHA256(hostKey.PublicKey()),
			"public_key", o.HostKey+".pub")
	}
	return o, logger, nil
}

// addServeFlags registers the SSH server's flags on a command.
func addServeFlags(cmd *cobra.Command, f *serveFlags) {
	def := config.Default().Serve
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on (default "+def.Listen+"; steady.yaml serve.listen)")
	fl.StringVar(&f.hostKey, "host-key", "", "the server's private host key, created when missing (default "+def.HostKey+"; serve.host_key)")
	fl.StringVar(&f.authorizedKeys, "authorized-keys", "", "the team's public keys and roles (serve.authorized_keys)")
}

// stopOnSignals turns the first SIGTERM, SIGINT or SIGHUP into a graceful
// stop (ctx ends) and the next one into a forced stop. SIGHUP comes when
// the terminal that started the server goes: by default it would end the
// server at once, without a goodbye to anyone.
func stopOnSignals(parent context.Context, log *slog.Logger, srv *serve.Server) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	outlive := outliveOwnOutput()
	done := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if n == 1 {
					log.Info("stop requested", "signal", sig.String())
					cancel()
					continue
				}
				log.Warn("stop requested again: forcing it", "signal", sig.String())
				srv.Force()
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		outlive()
		close(done)
		cancel()
	}
}

// outliveOwnOutput keeps a server alive when its own output goes: under
// `steady serve 2>&1 | tee log`, ctrl+c ends tee as well, and Go ends a
// program on its first write to a broken stdout or stderr unless SIGPIPE
// is notified. The server must live on to say goodbye to every client and
// close the journal; its log lines are lost, not its clients' screens.
// (Notify, not Ignore: an ignored SIGPIPE would be inherited by every
// command an action runs.) The returned func restores the default.
func outliveOwnOutput() func() {
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	return func() { signal.Stop(pipes) }
}

// openServed resumes --incident, else the latest unfinished incident of
// the journal directory (unless --new), else opens a new one. The resume
// report is returned when it has something every responder must read.
func openServed(l *config.Loaded, f serveFlags, opener session.Actor, t *target.Target, errw io.Writer) (*session.Session, *session.ResumeReport, error) {
	dir := l.JournalDir
	path, err := servedJournal(dir, f)
	if err != nil {
		return nil, nil, err
	}
	var follows *session.Link
	if path == "" && f.new {
		follows = followsDamaged(dir)
	}
	opts := session.Options{Target: t, Dir: dir, Actor: opener, Version: version, Approval: session.Approval(l.Serve.Approval), Follows: follows, Runbooks: l.Runbooks}
	if path != "" {
		return resumeServed(l, path, opts, errw)
	}
	rb, err := runbook.Load(f.runbook, l.Runbooks, known())
	if err != nil {
		return nil, nil, exitf(exitUsage, "%v", err)
	}
	opts.Runbook = rb
	s, err := session.Open(opts)
	if err != nil {
		return nil, nil, lockedOr(err, dir)
	}
	sayOpened(errw, s, follows)
	return s, nil, nil
}

// servedJournal is the journal of the incident to serve: the one --incident
// names (it must be open), or the latest unfinished one unless --new; ""
// for a new incident.
func servedJournal(dir string, f serveFlags) (string, error) {
	switch {
	case f.incident != "":
		path := f.incident
		if !strings.HasSuffix(path, ".jsonl") && !strings.ContainsRune(path, filepath.Separator) {
			path = filepath.Join(dir, path+".jsonl")
		}
		events, _, err := session.ReadJournal(path)
		if len(events) == 0 {
			return "", exitf(exitUsage, "--incident %s: %v (the journal directory is %s)", f.incident, err, dir)
		}
		for _, e := range events {
			if e.Type == session.TypeClosed {
				return "", exitf(exitFound, "incident %s is closed; serve a new one with --new", f.incident)
			}
		}
		return path, nil
	case !f.new:
		if inf, ok := session.LatestUnfinished(dir); ok {
			return inf.Path, nil
		}
	}
	return "", nil
}

// resumeServed resumes the incident of the journal at path; the report is
// returned when there is something in it to tell the operators.
func resumeServed(l *config.Loaded, path string, opts session.Options, errw io.Writer) (*session.Session, *session.ResumeReport, error) {
	rb, err := session.LoadRunbookFor(path, l.Runbooks, known())
	if err != nil {
		return nil, nil, exitf(exitUsage, "load the runbook of %s: %v", path, err)
	}
	opts.Runbook = rb
	s, rep, err := session.Resume(path, opts)
	if err != nil {
		if refused := refuseDamaged(err, "steady serve --new"); refused != nil {
			return nil, nil, refused
		}
		return nil, nil, lockedOr(err, path)
	}
	fmt.Fprintf(errw, "steady: resumed incident %s (journal %s)\n", s.ID(), s.JournalPath())
	if rep.Truncated || len(rep.Unknown) > 0 || len(rep.Interrupted) > 0 || rep.RunbookChanged {
		for _, line := range rep.Lines() {
			fmt.Fprintln(errw, "steady: "+line)
		}
		return s, &rep, nil
	}
	return s, nil, nil
}

// portOf returns the port of a host:port address.
func portOf(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i+1:]
	}
	return addr
}
