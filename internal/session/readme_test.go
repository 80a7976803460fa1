package session

import (
	"os"
	"strings"
	"testing"
)

// The README's table of who may do what is what the session enforces.
func TestTheREADMEsRoleTableIsWhatIsEnforced(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	header := "| what | observer | approver | operator |"
	_, rest, ok := strings.Cut(string(b), header)
	if !ok {
		t.Fatalf("README.md has no table starting %q", header)
	}
	rows := map[string][]bool{}
	for _, line := range strings.Split(rest, "\n")[2:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		var may []bool
		for _, c := range cells[1:] {
			may = append(may, strings.TrimSpace(c) == "✓")
		}
		rows[strings.TrimSpace(cells[0])] = may
	}
	if len(rows) != len(Intents) {
		t.Errorf("the README lists %d intents, the session knows %d", len(rows), len(Intents))
	}
	for _, i := range Intents {
		may, ok := rows[string(i)]
		if !ok {
			t.Errorf("the README's table lacks %q", i)
			continue
		}
		for j, role := range Roles {
			if may[j] != role.May(i) {
				t.Errorf("README: %s may %q: %v; the session says %v", role, i, may[j], role.May(i))
			}
		}
	}
}
