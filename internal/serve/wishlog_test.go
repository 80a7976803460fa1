package serve

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Wish's log lines reach the server's log; a program that ended because
// its client went away is not reported as an error, a panic still is.
func TestWishLogLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := wishLog{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, line := range []string{
		`{"level":"error","msg":"app exit with error","error":"program was killed: context canceled"}`,
		`{"level":"error","msg":"app exit with error","error":"program was killed: program experienced a panic"}`,
		`{"level":"warn","msg":"failed to parse","path":"x"}`,
		`not json`,
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=DEBUG msg="wish: app exit with error" error="program was killed: context canceled"`,
		`level=ERROR msg="wish: app exit with error" error="program was killed: program experienced a panic"`,
		`level=WARN msg="wish: failed to parse" path=x`,
		`level=WARN msg=wish line="not json"`,
	}
	if len(got) != len(want) {
		t.Fatalf("log:\n%s", buf.String())
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("line %d = %s, want it to end with %s", i, got[i], want[i])
		}
	}
}
