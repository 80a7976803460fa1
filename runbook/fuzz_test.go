package runbook

import "testing"

func FuzzParse(f *testing.F) {
	if src, ok := EmbeddedSource(DefaultName); ok {
		f.Add(src)
	}
	for _, s := range []string{
		"---\ntitle: x\n---\n# T\n## Symptoms\n- a\n",
		"## Root Causes\n| Cause | Likelihood |\n|---|---|\n| a | Low |\n## Resolution Steps\n### For a\n1. x\n   ```steady\n   probe: cache\n   ```\n",
		"---\n---\n",
		"---\nescalation: {rules: [{after: 1h}]}\n",
		"- [ ] \n- [x] done\n",
		"```steady\n```\n",
		"## Diagnosis\n1. ```steady\n   probe: [\n",
		"\ufeff---\r\ntitle: crlf\r\n---\r\n## Symptoms\r\n- a\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		r, ps := Lint("fuzz.md", src, known)
		if r == nil {
			t.Fatal("Parse returned no runbook")
		}
		lines := 1
		for _, c := range src {
			if c == '\n' {
				lines++
			}
		}
		for _, p := range ps {
			if p.Line < 1 || p.Line > lines+1 {
				t.Fatalf("problem at line %d of a %d-line file: %s", p.Line, lines, p)
			}
		}
		_ = r.Markdown()
	})
}
