package session

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00Z","actor":{"name":"a","via":"local","role":"operator"},"type":"incident.opened","data":{"id":"x"},"prev":"","hash":"00"}` + "\n"))
	f.Add([]byte("{\"seq\":1,\"type\":\"item.noted\"}\n{broken\n{\"seq\":3,\"type\":\"x\"}\n"))
	f.Add([]byte("{\"seq\":1,\"type\":\"item.noted\"}\n{\"seq\":2,\"ty"))
	f.Add([]byte("\n\n"))
	f.Add([]byte{0xff, 0xfe, '\n'})
	f.Fuzz(func(t *testing.T, data []byte) {
		events, info, err := ReadEvents(bytes.NewReader(data))
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if le != nil && (le.Line < 1 || le.Line > bytes.Count(data, []byte("\n"))+1) {
			t.Fatalf("damaged line number %d out of range", le.Line)
		}
		if info.GoodBytes > int64(len(data)) {
			t.Fatalf("good bytes %d beyond the data (%d)", info.GoodBytes, len(data))
		}
		for _, e := range events {
			if e.Type == "" {
				t.Fatal("an event without a type was accepted")
			}
		}
		// Verify must never panic either.
		_, _ = Verify(bytes.NewReader(data))
	})
}

func TestReadEventsReportsTheDamagedLine(t *testing.T) {
	data := "{\"seq\":1,\"type\":\"a\"}\n{\"seq\":2,\"type\":\"b\"}\nnot json\n{\"seq\":4,\"type\":\"d\"}\n"
	_, _, err := ReadEvents(bytes.NewReader([]byte(data)))
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 {
		t.Fatalf("want a damaged line 3, got %v", err)
	}
}
