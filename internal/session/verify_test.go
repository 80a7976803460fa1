package session

import (
	"fmt"
	"strings"
	"testing"
)

// journalLines writes an incident of n notes and returns its lines.
func journalLines(t *testing.T, n int) []string {
	t.Helper()
	s, _ := openTest(t, "")
	for i := range n {
		if err := s.Note(alice, "", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Split(strings.TrimSuffix(string(mustRead(t, s.JournalPath())), "\n"), "\n")
}

func verifyLines(t *testing.T, lines []string) *Verification {
	t.Helper()
	v, err := Verify(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Any change to a line is a change, even one that leaves the values
// steady reads as they were: an extra field, a duplicate key, spacing.
func TestVerifyRefusesEveryChangeToALine(t *testing.T) {
	lines := journalLines(t, 3)
	last := len(lines) - 1
	tests := []struct {
		name, from, to, want string
	}{
		{"an extra field", `"type":"item.noted"`, `"type":"item.noted","extra":1`, `unknown field "extra"`},
		{"an extra field in the actor", `"role":"operator"}`, `"role":"operator","admin":true}`, `unknown field "admin"`},
		{"a duplicate key", `"type":"item.noted"`, `"type":"item.ticked","type":"item.noted"`, `the key "type" appears twice`},
		{"a duplicate key in the data", `"text":"note 2"`, `"text":"note 2","text":"note 2"`, "altered"},
		{"spacing", `"type":"item.noted"`, `"type": "item.noted"`, "spacing, escapes or the order"},
		{"an escape", `"type":"item.noted"`, `"type":"item\u002enoted"`, "spacing, escapes or the order"},
		{"a carriage return", `"}`, "\"}\r", "spacing, escapes or the order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited := append([]string(nil), lines...)
			i := strings.LastIndex(edited[last], tt.from)
			if i < 0 {
				t.Fatalf("%q is not in %s", tt.from, edited[last])
			}
			edited[last] = edited[last][:i] + tt.to + edited[last][i+len(tt.from):]
			v := verifyLines(t, edited)
			if v.Count() != 1 || v.Problems[0].Line != last+1 || !strings.Contains(v.Problems[0].Msg, tt.want) {
				t.Errorf("problems %v, want one on line %d saying %q", v.Problems, last+1, tt.want)
			}
		})
	}
}

// One break is one problem, however many lines follow it; past
// MaxProblems the rest are counted, not listed.
func TestVerifyReportsEachBreakOnce(t *testing.T) {
	lines := journalLines(t, 60)
	t.Run("a middle line removed", func(t *testing.T) {
		edited := append(append([]string(nil), lines[:11]...), lines[12:]...)
		v := verifyLines(t, edited)
		if v.Count() != 1 || v.Problems[0].Line != 12 || !strings.Contains(v.Problems[0].Msg, "event 12 missing") {
			t.Errorf("problems %v (and %d more), want one: event 12 missing, at line 12", v.Problems, v.More)
		}
	})
	t.Run("a middle line damaged", func(t *testing.T) {
		edited := append([]string(nil), lines...)
		edited[20] = edited[20][:40]
		v := verifyLines(t, edited)
		if v.Count() != 1 || v.Problems[0].Line != 21 || !strings.Contains(v.Problems[0].Msg, "not valid JSON") {
			t.Errorf("problems %v (and %d more), want one on line 21", v.Problems, v.More)
		}
	})
	t.Run("a line rewritten with its hash recomputed", func(t *testing.T) {
		edited := append([]string(nil), lines...)
		var e Event
		e, err := decodeLine([]byte(edited[30]), newInterner())
		if err != nil {
			t.Fatal(err)
		}
		e.Data = []byte(`{"text":"nothing happened"}`)
		edited[30] = sealedLine(t, e)
		v := verifyLines(t, edited)
		if v.Count() != 1 || v.Problems[0].Line != 32 || !strings.Contains(v.Problems[0].Msg, "chain is broken") {
			t.Errorf("problems %v (and %d more), want one: the chain broken at line 32", v.Problems, v.More)
		}
	})
	t.Run("many lines damaged", func(t *testing.T) {
		edited := append([]string(nil), lines...)
		for i := 2; i < 60; i += 2 {
			edited[i] = "garbage"
		}
		v := verifyLines(t, edited)
		if len(v.Problems) != MaxProblems || v.Count() != 29 {
			t.Errorf("%d problems listed, %d in all; want %d listed of 29", len(v.Problems), v.Count(), MaxProblems)
		}
		if !strings.Contains(v.Summary(), "29 problems, the first at line 3") {
			t.Errorf("summary %q", v.Summary())
		}
	})
}

func TestParseHead(t *testing.T) {
	hash := strings.Repeat("9f86d081", 8)
	for _, tt := range []struct {
		in   string
		want Head
		err  bool
	}{
		{"42:" + hash, Head{42, hash}, false},
		{" 42:9F86D081884C… ", Head{42, "9f86d081884c"}, false},
		{"0:", Head{0, ""}, false},
		{"42", Head{}, true},
		{"42:9f86", Head{}, true},
		{"x:" + hash, Head{}, true},
		{"-1:" + hash, Head{}, true},
		{"42:" + hash + "00", Head{}, true},
		{"42:zz86d081884c", Head{}, true},
	} {
		got, err := ParseHead(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseHead(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{}`, ""},
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, ""},
		{`{"a":[1,{"b":1,"b":2}]}`, "b"},
		{`{"a":"x,\"a\":1","b":1}`, ""},
		{`{"a":1,"\u0061":2}`, "a"},
		{`{"k":["a","a"]}`, ""},
		{`{"x":{"y":1},"x":{}}`, "x"},
		{`[{"a":1},{"a":1}]`, ""},
	} {
		if got := duplicateKey([]byte(tt.in)); got != tt.want {
			t.Errorf("duplicateKey(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
