package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// readmeBlock returns the body of the first fenced block after the line
// of README.md that starts with after.
func readmeBlock(t *testing.T, after string) string {
	t.Helper()
	return readmeBlocks(t, after, 1)[0]
}

// readmeBlocks returns the bodies of the n fenced blocks that follow the
// line of README.md that starts with after.
func readmeBlocks(t *testing.T, after string, n int) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+after)
	if !ok {
		t.Fatalf("README.md has no line starting %q", after)
	}
	var blocks []string
	for range n {
		_, rest, _ = strings.Cut(rest, "\n```")
		_, rest, _ = strings.Cut(rest, "\n")
		var body string
		if body, rest, ok = strings.Cut(rest, "\n```"); !ok {
			t.Fatalf("README.md: fewer than %d fenced blocks after %q", n, after)
		}
		rest = strings.TrimPrefix(rest, "\n")
		blocks = append(blocks, body)
	}
	return blocks
}

// checkShape reduces the output of `steady check` to what a reader
// relies on and a run cannot change: the header's runbook, the table's
// columns, each probe with its status, each finding's probe and status,
// each cause's verdict, title, likelihood and probes, and the result.
// Times, counts, ports, paths and dates are left out.
func checkShape(out string) []string {
	var shape []string
	section := ""
	spaces := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		fields := strings.Fields(trimmed)
		switch {
		case trimmed == "":
		case strings.HasPrefix(line, "steady check — runbook "):
			runbook, _, _ := strings.Cut(strings.TrimPrefix(line, "steady check — runbook "), " — ")
			shape = append(shape, "header: runbook "+runbook)
		case strings.HasPrefix(line, "PROBE "):
			section = "probe"
			shape = append(shape, "columns: "+strings.Join(fields, " "))
		case trimmed == "Findings:", trimmed == "Root causes:":
			section = trimmed
			shape = append(shape, trimmed)
		case strings.HasPrefix(line, "Result: "):
			section = ""
			shape = append(shape, line)
		case section == "probe" || section == "Findings:":
			shape = append(shape, section+" "+fields[0]+" "+fields[1])
		case section == "Root causes:":
			shape = append(shape, "cause "+spaces.ReplaceAllString(trimmed, " | "))
		default:
			shape = append(shape, "unexpected: "+line)
		}
	}
	return shape
}

// The README's "Try it headless", followed as a newcomer would: `steady
// sandbox` says what to export, every command of the second terminal
// works as the README says (the first check finds the faults and exits
// 1, the rest exit 0), the check's output has the README sample's shape,
// no password is printed, and ctrl+c removes the sandbox and its
// steady.yaml.
func TestTheREADMEsHeadlessTour(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox")
	}
	t.Parallel()
	blocks := readmeBlocks(t, "`steady sandbox` starts what a drill starts", 2)
	start, printed := blocks[0], blocks[1]
	args := strings.Fields(strings.TrimSpace(strings.Split(start, "#")[0]))
	if len(args) < 2 || args[0] != "steady" || args[1] != "sandbox" {
		t.Fatalf("the tour does not start with steady sandbox: %q", start)
	}
	dir := t.TempDir()
	sb := startBackground(t, dir, args[1:]...)
	cfg := sb.waitBuilt(t, `(?m)^  export STEADY_CONFIG=(\S+)$`)[1]
	for _, want := range []string{"The sandbox is ready, with the example application and the fault mixed:", "  database  postgres://steady:***@127.0.0.1:", "In another terminal, point steady at it:"} {
		if !strings.Contains(printed, want) || !strings.Contains(sb.log(), want) {
			t.Errorf("%q is not both in the README's sample and in what steady sandbox printed:\n%s", want, sb.log())
		}
	}

	env := []string{"STEADY_CONFIG=" + cfg}
	ran := 0
	for _, line := range strings.Split(readmeBlock(t, "In a second terminal, after that `export`:"), "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, command := range strings.Split(line, "&&") {
			args := strings.Fields(command)
			if len(args) < 2 {
				// The bare `steady`, the incident screen, needs a terminal.
				continue
			}
			r := runSteady(t, dir, env, args[1:]...)
			ran++
			if slices.Equal(args, []string{"steady", "check"}) {
				if r.code != 1 {
					t.Errorf("steady check on the sandbox: exit %d, want 1 (the faults)\n%s%s", r.code, r.stdout, r.stderr)
				}
				want := checkShape(readmeBlock(t, "`steady check` there:"))
				if got := checkShape(r.stdout); !slices.Equal(got, want) {
					t.Errorf("steady check's output has another shape than the README's sample:\ngot  %q\nwant %q\n%s", got, want, r.stdout)
				}
				continue
			}
			if r.code != 0 {
				t.Errorf("%s: exit %d\n%s%s", strings.TrimSpace(command), r.code, r.stdout, r.stderr)
			}
		}
	}
	if ran < 4 {
		t.Errorf("only %d commands in the README's second terminal", ran)
	}

	var c struct {
		DB string `yaml:"db"`
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the sandbox's steady.yaml: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`://[^:@/]+:([^@]+)@`).FindStringSubmatch(c.DB)
	if pw == nil {
		t.Fatalf("the sandbox's database URL has no password: %s", c.DB)
	}
	if code := sb.signal(t, os.Interrupt); code != 0 {
		t.Errorf("steady sandbox: exit %d after ctrl+c, want 0", code)
	}
	if strings.Contains(sb.log(), pw[1]) {
		t.Errorf("steady sandbox printed the database's password:\n%s", sb.log())
	}
	if !strings.Contains(sb.log(), "sandbox stopped and removed") {
		t.Errorf("steady sandbox did not say it stopped:\n%s", sb.log())
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("the sandbox's steady.yaml outlived it: %v", err)
	}
}
