package runbook

import (
	"strings"
	"testing"
	"time"
)

// known lists what a build of steady carries out, as the command line
// passes it in: the ids steady registers.
var known = Known{
	Probes:  []string{"connectivity", "migrations", "audit-concurrency", "cache", "shift-counts", "source-data", "summaries", "constraints"},
	Actions: []string{"backup", "migrate", "check", "flush-cache", "restart", "recalculate", "run-tests", "repair-lost-updates"},
	Params: func(kind, id string, params map[string]string) []string {
		var msgs []string
		for k := range params {
			switch {
			case id == "audit-concurrency" && (k == "since" || k == "window"):
			case (id == "shift-counts" || id == "source-data") && (k == "clinician" || k == "from" || k == "to"):
			default:
				msgs = append(msgs, "unknown parameter "+k)
			}
		}
		return msgs
	},
}

func TestEmbeddedRunbookCoversTheSeed(t *testing.T) {
	src, ok := EmbeddedSource(DefaultName)
	if !ok {
		t.Fatal("default runbook not embedded")
	}
	r, ps := Lint("embedded:"+DefaultName+".md", src, known)
	if len(ps) > 0 {
		t.Fatalf("embedded runbook has problems:\n%v", ps)
	}
	if r.Meta.Severity != "high" || r.Meta.EstimatedTTR != 2*time.Hour || r.Meta.Owner != "Development Team" {
		t.Errorf("metadata %+v", r.Meta)
	}
	if got := r.Meta.LastUpdated.Format("2006-01-02"); got != "2026-02-21" {
		t.Errorf("last updated %s", got)
	}
	esc := r.Meta.Escalation.Rules
	if len(esc) != 2 || esc[0].After != 4*time.Hour || esc[0].To != "Tech Lead" || !esc[1].Immediate || esc[1].To != "Senior Developer" {
		t.Errorf("escalation rules %+v", esc)
	}
	if len(r.Meta.Related) != 2 {
		t.Errorf("related %v", r.Meta.Related)
	}
	for i, kind := range SectionOrder {
		if i >= len(r.Sections) || r.Sections[i].Kind != kind {
			t.Fatalf("section %d should be %s", i, kind)
		}
	}
	counts := map[SectionKind]int{}
	for _, it := range r.Items() {
		counts[it.Section]++
	}
	// The built-in runbook has 4 symptoms, 3 detection lines, 8 diagnosis
	// steps (the team's 4, and connectivity, migrations, cache and constraints), 4 verification
	// ticks, 6 prevention items and 5 escalation lines.
	want := map[SectionKind]int{Symptoms: 4, Detection: 3, Diagnosis: 8, Verification: 4, Prevention: 6, Escalation: 5}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d items, want %d", k, counts[k], n)
		}
	}
	causes := map[string][]string{
		"incomplete-migration": {"migrations"}, "race-condition": {"audit-concurrency"}, "cache-invalidation": {"cache"},
		"business-rule": {"summaries"}, "constraint-bypass": {"constraints"},
	}
	for id, probes := range causes {
		c := r.Cause(id)
		if c == nil || strings.Join(c.Probes, ",") != strings.Join(probes, ",") {
			t.Errorf("cause %s = %+v", id, c)
		}
		if r.Path(id) == nil {
			t.Errorf("no resolution path for %s", id)
		}
	}
	// Every diagnosis step and every seed resolution step is bound.
	for _, id := range []string{"diagnosis-2", "diagnosis-3", "diagnosis-4", "diagnosis-5"} {
		if r.Item(id).Binding == nil {
			t.Errorf("%s is not bound", id)
		}
	}
	wantActions := map[string]string{
		"resolution-incomplete-migration-2": "backup", "resolution-incomplete-migration-3": "migrate",
		"resolution-incomplete-migration-4": "check", "resolution-cache-invalidation-1": "flush-cache",
		"resolution-cache-invalidation-2": "restart", "resolution-cache-invalidation-3": "recalculate",
		"resolution-business-rule-3": "run-tests",
	}
	for id, action := range wantActions {
		it := r.Item(id)
		if it == nil || it.Binding == nil || it.Binding.Action != action {
			t.Errorf("%s should run %s: %+v", id, action, it)
		}
	}
	// The runbook's manual commands stay visible.
	for _, cmd := range []string{"manage.py showmigrations", "redis-cli FLUSHALL", "select_for_update", "dumpdata", "docker compose restart celery_worker"} {
		if !strings.Contains(string(src), cmd) {
			t.Errorf("manual command %q missing", cmd)
		}
	}
	if it := r.Item("verification-1"); !it.Task || it.Checked {
		t.Errorf("verification items are unticked tasks: %+v", it)
	}
	if got := r.Item("diagnosis-2").Binding.Params["clinician"]; got != Ask {
		t.Errorf("shift-counts asks for the clinician, got %q", got)
	}
}

func TestLintReportsEachProblemAtItsLine(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"unknown section", "# T\n\n## Symptoms\n\n- a\n\n## Wishful Thinking\n\n- b\n", 7, `unknown section "Wishful Thinking"`},
		{"duplicate section", "# T\n\n## Symptoms\n\n- a\n\n## Symptoms\n\n- b\n", 7, "appears twice"},
		{"unknown probe", "# T\n\n## Diagnosis Steps\n\n1. look\n\n   ```steady\n   probe: crystal-ball\n   ```\n", 7, `unknown probe "crystal-ball"`},
		{"unknown action", "# T\n\n## Resolution Steps\n\n### For x {#x}\n\n1. fix\n\n   ```steady\n   action: pray\n   ```\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| x | Low |\n", 9, `unknown action "pray"`},
		{"bad front matter yaml", "---\ntitle: T\nseverity: [high\n---\n# T\n\n## Symptoms\n\n- a\n", 2, "front matter"},
		{"unknown front matter key", "---\ntitle: T\nowners: me\n---\n# T\n\n## Symptoms\n\n- a\n", 3, "owners"},
		{"bad severity", "---\nseverity: apocalyptic\n---\n## Symptoms\n\n- a\n", 2, "unknown severity"},
		{"bad ttr", "---\nestimated_ttr: soonish\n---\n## Symptoms\n\n- a\n", 2, "estimated_ttr"},
		{"bad date", "---\nlast_updated: 21/02/2026\n---\n## Symptoms\n\n- a\n", 2, "not a date"},
		{"unclosed front matter", "---\ntitle: T\n## Symptoms\n", 1, "not closed"},
		{"escalation rule without time", "---\nescalation:\n  rules:\n    - to: Boss\n---\n## Symptoms\n\n- a\n", 4, "after"},
		{"resolution for unknown cause", "# T\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| Gremlins | Low |\n\n## Resolution Steps\n\n### For cosmic rays {#cosmic-rays}\n\n1. hide\n", 11, `cause "cosmic-rays"`},
		{"resolution by title for unknown cause", "# T\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| Gremlins | Low |\n\n## Resolution Steps\n\n### For cosmic rays\n\n1. hide\n", 11, "for no cause"},
		{"duplicate item id", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   probe: cache\n   id: same\n   ```\n\n2. b\n\n   ```steady\n   probe: migrations\n   id: same\n   ```\n", 12, `duplicate item id "same"`},
		{"duplicate cause id", "# T\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| Gremlins | Low |\n| gremlins | High |\n", 8, "duplicate cause id"},
		{"unknown probe in cause table", "# T\n\n## Root Causes\n\n| Cause | Likelihood | Probes |\n| --- | --- | --- |\n| Gremlins | Low | ouija |\n", 7, `unknown probe "ouija"`},
		{"bad likelihood", "# T\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| Gremlins | Certain |\n", 7, "likelihood"},
		{"binding outside an item", "# T\n\n## Diagnosis Steps\n\n```steady\nprobe: cache\n```\n", 5, "inside a list item"},
		{"binding with both", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   probe: cache\n   action: backup\n   ```\n", 7, "not both"},
		{"binding with neither", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   window: 1h\n   ```\n", 7, "needs `probe: ID`"},
		{"binding bad yaml", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   probe: cache\n   window: [1h\n   ```\n", 8, "steady block"},
		{"two bindings in one item", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   probe: cache\n   ```\n\n   ```steady\n   probe: migrations\n   ```\n", 11, "second steady block"},
		{"unknown parameter", "# T\n\n## Diagnosis Steps\n\n1. a\n\n   ```steady\n   probe: cache\n   colour: blue\n   ```\n", 7, "unknown parameter colour"},
		{"resolution steps outside a cause", "# T\n\n## Resolution Steps\n\n1. fix it\n", 5, "under a cause heading"},
		{"causes as a list", "# T\n\n## Root Causes\n\n- gremlins\n", 5, "takes a table"},
		{"no sections", "# Only a title\n\nSome words.\n", 1, "no sections"},
		{"empty item", "# T\n\n## Symptoms\n\n- \n", 5, "empty checklist item"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := Lint("bad.md", []byte(tt.src), known)
			if len(ps) == 0 {
				t.Fatalf("no problem reported")
			}
			for _, p := range ps {
				if p.Line == tt.line && strings.Contains(p.Msg, tt.msg) {
					if !strings.HasPrefix(p.String(), "bad.md:") {
						t.Errorf("problem not prefixed with the file: %s", p)
					}
					return
				}
			}
			t.Errorf("want a problem at line %d containing %q, got:\n%v", tt.line, tt.msg, ps)
		})
	}
}

func TestResolutionMatchedByHeadingText(t *testing.T) {
	src := "# T\n\n## Root Causes\n\n| Cause | Likelihood |\n| --- | --- |\n| Cache invalidation issue | Low |\n| Incomplete migration | High |\n\n## Resolution Steps\n\n### For Incomplete Migration\n\n1. migrate\n\n### For Cache Issues\n\n1. flush\n"
	r, ps := Parse("t.md", []byte(src))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if r.Path("incomplete-migration") == nil || r.Path("cache-invalidation-issue") == nil {
		t.Fatalf("paths %+v", r.Section(Resolution).Paths)
	}
	if it := r.Item("resolution-cache-invalidation-issue-1"); it == nil || it.Cause != "cache-invalidation-issue" {
		t.Errorf("item of the cache path: %+v", it)
	}
}

func TestItemMarkdownKeepsCodeAndDropsBinding(t *testing.T) {
	src := "# T\n\n## Diagnosis Steps\n\n1. Check the cache\n   carefully\n\n   ```sh\n   redis-cli INFO\n     indented\n   ```\n\n   ```steady\n   probe: cache\n   ```\n\n   Expected: all fine\n"
	r, ps := Parse("t.md", []byte(src))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	it := r.Item("diagnosis-1")
	if it.Title != "Check the cache carefully" {
		t.Errorf("title %q", it.Title)
	}
	want := "Check the cache\ncarefully\n\n```sh\nredis-cli INFO\n  indented\n```\n\nExpected: all fine"
	if it.Markdown != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", it.Markdown, want)
	}
	if len(it.Code) != 1 || it.Code[0].Text != "redis-cli INFO\n  indented\n" || it.Code[0].Line != 8 {
		t.Errorf("code %+v", it.Code)
	}
	if it.Binding == nil || it.Binding.Probe != "cache" || it.Binding.Line != 13 {
		t.Errorf("binding %+v", it.Binding)
	}
}

func TestMarkdownRendersEverySection(t *testing.T) {
	src, _ := EmbeddedSource(DefaultName)
	r, _ := Parse("x", src)
	md := r.Markdown()
	for _, want := range []string{"## Symptoms", "## Detection", "## Diagnosis Steps", "## Root Causes", "## Resolution Steps",
		"### For incomplete migration", "## Verification", "## Prevention", "## Escalation", "▶ action `migrate`",
		"| Tech Lead | after 4 hours", "| Severity | High |", "- [ ] Inconsistent data corrected", "clinician (asked)"} {
		if !strings.Contains(md, want) {
			t.Errorf("rendered runbook lacks %q", want)
		}
	}
}

func TestReadAndList(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Read("no-such-runbook", dir); err == nil || !strings.Contains(err.Error(), "built in") {
		t.Errorf("unknown runbook error should list the built-in ones: %v", err)
	}
	file, _, err := Read("", "")
	if err != nil || file != "embedded:data-inconsistency.md" {
		t.Errorf("default runbook: %s, %v", file, err)
	}
	entries, err := List("")
	if err != nil || len(entries) < 1 {
		t.Fatalf("list: %v %v", entries, err)
	}
}

// One renamed section heading is one problem: what sat under it is not
// reported again (the resolution paths of a Root Causes section renamed
// away are not each "for no cause").
func TestOneRenamedHeadingIsOneProblem(t *testing.T) {
	src, ok := EmbeddedSource(DefaultName)
	if !ok {
		t.Fatal("no embedded runbook")
	}
	for _, h := range []string{"Symptoms", "Detection", "Diagnosis Steps", "Root Causes", "Resolution Steps", "Verification", "Prevention", "Escalation"} {
		renamed := strings.Replace(string(src), "\n## "+h+"\n", "\n## "+h+" (draft)\n", 1)
		if renamed == string(src) {
			t.Fatalf("no heading ## %s in the embedded runbook", h)
		}
		if _, ps := Lint("x.md", []byte(renamed), known); len(ps) != 1 || !strings.Contains(ps[0].Msg, "unknown section") {
			t.Errorf("## %s renamed: %d problems, want the one unknown section:\n%v", h, len(ps), ps)
		}
	}
	gone := strings.Replace(string(src), "\n## Root Causes\n", "\n", 1)
	if _, ps := Lint("x.md", []byte(gone), known); len(ps) != 1 || !strings.Contains(ps[0].Msg, "no Root Causes section") {
		t.Errorf("## Root Causes removed: want one problem saying so:\n%v", ps)
	}
}
