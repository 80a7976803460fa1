package runbook

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"steady/internal/duration"
)

// frontMatter is the YAML block between the leading "---" lines.
type frontMatter struct {
	ID           string `yaml:"id"`
	Title        string `yaml:"title"`
	Owner        string `yaml:"owner"`
	Severity     string `yaml:"severity"`
	EstimatedTTR string `yaml:"estimated_ttr"`
	LastUpdated  string `yaml:"last_updated"`
	Escalation   struct {
		OnCall string            `yaml:"on_call"`
		Rules  []frontMatterRule `yaml:"rules"`
	} `yaml:"escalation"`
	Related []string `yaml:"related"`
}

// frontMatterRule is one escalation rule as the front matter writes it.
type frontMatterRule struct {
	After       string `yaml:"after"`
	Immediately bool   `yaml:"immediately"`
	To          string `yaml:"to"`
	When        string `yaml:"when"`
}

// escalationRule reads one escalation rule, on line of file.
func escalationRule(file string, line int, rule frontMatterRule) (EscalationRule, Problems) {
	var ps Problems
	er := EscalationRule{Immediate: rule.Immediately, To: rule.To, When: rule.When}
	switch {
	case rule.To == "":
		ps = append(ps, Problem{File: file, Line: line, Msg: "escalation rule without `to`", Hint: "name the role or person to escalate to"})
	case rule.Immediately && rule.After != "":
		ps = append(ps, Problem{File: file, Line: line, Msg: "escalation rule has both `after` and `immediately`"})
	case !rule.Immediately && rule.After == "":
		ps = append(ps, Problem{File: file, Line: line, Msg: "escalation rule needs `after: DURATION` or `immediately: true`"})
	}
	if rule.After != "" {
		d, err := parseHumanDuration(rule.After)
		if err != nil {
			ps = append(ps, Problem{File: file, Line: line, Msg: "escalation after: " + err.Error()})
		}
		er.After = d
	}
	return er, ps
}

// Severities are the accepted severity values, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// splitFrontMatter returns the YAML text, the 1-based file line of its
// first line, and the byte offset where the Markdown body starts. A source
// without front matter returns ok=false and offset 0.
func splitFrontMatter(src []byte) (fm []byte, firstLine int, bodyStart int, ok bool, closed bool) {
	rest := bytes.TrimPrefix(src, []byte("\ufeff"))
	bom := len(src) - len(rest)
	if !bytes.HasPrefix(rest, []byte("---\n")) && !bytes.HasPrefix(rest, []byte("---\r\n")) {
		return nil, 0, 0, false, false
	}
	start := bom + bytes.IndexByte(rest, '\n') + 1
	pos := start
	for pos < len(src) {
		end := bytes.IndexByte(src[pos:], '\n')
		line := src[pos:]
		next := len(src)
		if end >= 0 {
			line = src[pos : pos+end]
			next = pos + end + 1
		}
		if t := strings.TrimRight(string(line), "\r \t"); t == "---" || t == "..." {
			return src[start:pos], 2, next, true, true
		}
		pos = next
	}
	return src[start:], 2, len(src), true, false
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlProblems turns a yaml.v3 error into problems at file lines; offset is
// the file line of the YAML text's first line.
func yamlProblems(file string, offset int, err error, what string) Problems {
	var ps Problems
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	for _, part := range strings.Split(msg, "\n") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		line := offset
		if m := yamlLine.FindStringSubmatch(part); m != nil {
			n, _ := strconv.Atoi(m[1])
			line = offset + n - 1
			part = m[2]
		}
		part = strings.Replace(part, "not found in type runbook.frontMatter", "is not a front matter key", 1)
		ps = append(ps, Problem{File: file, Line: line, Msg: what + ": " + part})
	}
	return ps
}

// parseFrontMatter decodes and checks the front matter into r.Meta.
func parseFrontMatter(file string, text []byte, firstLine int, r *Runbook) Problems {
	var fm frontMatter
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil && err.Error() != "EOF" {
		return yamlProblems(file, firstLine, err, "front matter")
	}
	var root yaml.Node
	_ = yaml.Unmarshal(text, &root)
	lineOf := func(path ...string) int { return frontMatterLine(&root, firstLine, path...) }

	var ps Problems
	m := &r.Meta
	m.ID, m.Title, m.Owner = fm.ID, fm.Title, fm.Owner
	m.Related = fm.Related
	if fm.ID != "" && !validID(fm.ID) {
		ps = append(ps, Problem{File: file, Line: lineOf("id"), Msg: fmt.Sprintf("id %q has characters other than a-z, 0-9, - and _", fm.ID)})
	}
	if fm.Severity != "" {
		sev := strings.ToLower(fm.Severity)
		if !contains(Severities, sev) {
			ps = append(ps, Problem{File: file, Line: lineOf("severity"), Msg: fmt.Sprintf("unknown severity %q", fm.Severity), Hint: "one of " + strings.Join(Severities, ", ")})
		}
		m.Severity = sev
	}
	if fm.EstimatedTTR != "" {
		d, err := parseHumanDuration(fm.EstimatedTTR)
		if err != nil {
			ps = append(ps, Problem{File: file, Line: lineOf("estimated_ttr"), Msg: "estimated_ttr: " + err.Error(), Hint: "e.g. 2h or 90m"})
		}
		m.EstimatedTTR = d
	}
	if fm.LastUpdated != "" {
		t, err := time.Parse("2006-01-02", fm.LastUpdated)
		if err != nil {
			ps = append(ps, Problem{File: file, Line: lineOf("last_updated"), Msg: fmt.Sprintf("last_updated %q is not a date", fm.LastUpdated), Hint: "write YYYY-MM-DD"})
		}
		m.LastUpdated = t
	}
	m.Escalation.OnCall = fm.Escalation.OnCall
	rules := ruleNodes(&root)
	for i, rule := range fm.Escalation.Rules {
		line := firstLine
		if i < len(rules) {
			line = firstLine + rules[i].Line - 1
		}
		er, rps := escalationRule(file, line, rule)
		ps = append(ps, rps...)
		m.Escalation.Rules = append(m.Escalation.Rules, er)
	}
	return ps
}

// frontMatterLine is the line of the file a key of the front matter is on,
// by its path from the top; the front matter's first line when there is no
// such key.
func frontMatterLine(root *yaml.Node, firstLine int, path ...string) int {
	n := root
	if len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				n, found = n.Content[i+1], true
				break
			}
		}
		if !found {
			return firstLine
		}
	}
	return firstLine + n.Line - 1
}

func ruleNodes(root *yaml.Node) []*yaml.Node {
	n := root
	if len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range []string{"escalation", "rules"} {
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				n, found = n.Content[i+1], true
				break
			}
		}
		if !found {
			return nil
		}
	}
	return n.Content
}

// parseHumanDuration reads a duration of the front matter ("2h", "2
// hours", "1 day"; see package duration), which must be positive.
func parseHumanDuration(s string) (time.Duration, error) { return duration.Positive(s) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
