package session

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sealedLine returns the line seal writes for e.
func sealedLine(t testing.TB, e Event) string {
	t.Helper()
	line, err := seal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return string(line)
}

// The direct reader must take every line steady writes, or replay silently
// drops back to the slow path; and it must read each exactly as
// encoding/json does.
func TestSealedLinesTakeTheFastPath(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 3, 2, 30, 123456789, time.UTC)
	bob := Actor{Name: "bob", Via: "ssh", Fingerprint: "SHA256:Zm9vYmFyYmF6cXV4cXV1eA", Role: Observer}
	tests := []struct {
		name string
		e    Event
	}{
		{"first event", Event{Seq: 1, Time: t0, Actor: alice, Type: TypeOpened, Data: []byte(`{"id":"inc-1","title":"Rota \"shifts\" <gone>"}`)}},
		{"ssh actor", Event{Seq: 2, Time: t0, Actor: bob, Type: TypeJoined, Prev: "ab"}},
		{"system actor", Event{Seq: 3, Time: t0, Actor: System, Type: TypeNoted, Data: []byte(`{"text":"ünïcödé {braces} [and] \\\" quotes"}`), Prev: "cd"}},
		{"non-ascii name", Event{Seq: 4, Time: t0, Actor: Actor{Name: "zoë", Via: "local", Role: Operator}, Type: TypeTicked, Data: []byte(`{"item":"x","checked":true}`)}},
		{"other zone", Event{Seq: 5, Time: t0.In(time.FixedZone("", 3600)), Actor: alice, Type: TypeClosed, Data: []byte(`{}`)}},
		{"nested data", Event{Seq: 123456789, Time: t0, Actor: alice, Type: TypeProbeFinished, Data: []byte(`{"run":"p","result":{"rows":[["1"],["}"]],"n":-1.5e3,"z":null}}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := sealedLine(t, tt.e)
			got, ok := parseSealed([]byte(line), newInterner())
			if !ok {
				t.Fatalf("fell back to encoding/json for %s", line)
			}
			var want Event
			if err := json.Unmarshal([]byte(line), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read\n%+v\nencoding/json reads\n%+v", got, want)
			}
		})
	}
}

// FuzzDecodeLine checks that any line, well formed or not, decodes to the
// same Event, or fails, exactly as json.Unmarshal does.
func FuzzDecodeLine(f *testing.F) {
	canonical := `{"seq":7,"time":"2026-01-01T03:00:00.001Z","actor":{"name":"alice","via":"local","role":"operator"},"type":"item.noted","data":{"item":"d-1","text":"n"},"prev":"aa","hash":"bb"}`
	f.Add(canonical)
	for _, edit := range [][2]string{
		{`"seq":7`, `"seq":07`},
		{`"seq":7`, `"seq":7.0`},
		{`"seq":7`, `"seq":7e0`},
		{`"seq":7`, `"seq":-7`},
		{`"seq":7`, `"seq":9223372036854775808`},
		{`"seq":7`, `"seq":123456789012345678`},
		{`"seq":7`, `"seq":"7"`},
		{`"seq":7,`, `"seq": 7,`},
		{`{"seq"`, `{"Seq"`},
		{`"time":"2026-01-01T03:00:00.001Z"`, `"time":"2026-01-01T03:00:00.001+01:00"`},
		{`"time":"2026-01-01T03:00:00.001Z"`, `"time":"yesterday"`},
		{`"time":"2026-01-01T03:00:00.001Z"`, `"time":null`},
		{`"alice"`, `"al\u0069ce"`},
		{`"alice"`, `"al\"ice"`},
		{`"alice"`, "\"al\tice\""},
		{`"alice"`, "\"al\xffice\""},
		{`"alice"`, `"zoë"`},
		{`"via":"local",`, `"via":"local","fingerprint":"SHA256:x",`},
		{`"via":"local",`, `"via":"local","fingerprint":"",`},
		{`"role":"operator"}`, `"role":"operator","extra":1}`},
		{`"type":"item.noted"`, `"type":""`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":{"item":"d-1","text":"n}"}`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":{"item":"d-1","text":}`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":{"a":[{"b":"\"}"}]}`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":{"a":[}`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":{"a":"\ud800"}`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":[1]`},
		{`"data":{"item":"d-1","text":"n"}`, `"data":null`},
		{`,"data":{"item":"d-1","text":"n"}`, ``},
		{`"hash":"bb"}`, `"hash":"bb"} `},
		{`"hash":"bb"}`, `"hash":"bb"}x`},
		{`"hash":"bb"}`, `"hash":"bb","hash":"cc"}`},
		{`"hash":"bb"}`, `"hash":"bb"`},
	} {
		f.Add(strings.Replace(canonical, edit[0], edit[1], 1))
	}
	f.Add(`{}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, line string) {
		in := newInterner()
		in.hash = "aa"
		got, gotErr := decodeLine([]byte(line), in)
		var want Event
		wantErr := json.Unmarshal([]byte(line), &want)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("error %v, encoding/json says %v", gotErr, wantErr)
		}
		if gotErr != nil {
			if gotErr.Error() != wantErr.Error() {
				t.Fatalf("error %q, encoding/json says %q", gotErr, wantErr)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read\n%+v\nencoding/json reads\n%+v", got, want)
		}
	})
}

// Edits anywhere in a line, on the direct path or the fallback, are still
// caught by Verify.
func TestVerifyCatchesEditsToTheEnvelope(t *testing.T) {
	s, _ := openTest(t, "")
	if err := s.Note(alice, "", "a note"); err != nil {
		t.Fatal(err)
	}
	data := string(mustRead(t, s.JournalPath()))
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	last := len(lines) - 1
	for _, edit := range [][2]string{
		{`"name":"alice"`, `"name":"mallory"`},        // read directly
		{`"role":"operator"`, `"role":"observer"`},    // read directly
		{`"time":"`, `"time":"1`},                     // an unparseable time: a damaged line
		{`"text":"a note"`, `"text": "another note"`}, // reformatted: read by encoding/json
		{`"name":"alice"`, `"name":"\u006dallory"`},   // escaped: read by encoding/json
	} {
		t.Run(edit[1], func(t *testing.T) {
			edited := append([]string(nil), lines...)
			edited[last] = strings.Replace(edited[last], edit[0], edit[1], 1)
			if edited[last] == lines[last] {
				t.Fatalf("the edit %q does not apply to %s", edit[0], lines[last])
			}
			v, err := Verify(strings.NewReader(strings.Join(edited, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			problems := v.Problems
			if len(problems) == 0 || problems[0].Line != last+1 {
				t.Fatalf("want a problem on line %d, got %v", last+1, problems)
			}
		})
	}
}
