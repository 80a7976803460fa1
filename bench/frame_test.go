package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestStripANSILeavesTheText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x1b[1;38;5;212m[Checklist 0/52]\x1b[m", "[Checklist 0/52]"},
		{"\x1b[?1049h\x1b[?25l\x1b[H\x1b[2Jtop", "top"},
		{"\x1b]11;?\x07\x1b]2;title\x1b\\a\x1b(Bb", "ab"},
		{"\x1bP+q544e\x1b\\plain", "plain"},
	} {
		if got := StripANSI(c.in); got != c.want {
			t.Errorf("StripANSI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFirstFramePTYSeesTheMarker(t *testing.T) {
	d, err := FirstFramePTY(context.Background(), Screen{
		Argv: []string{"sh", "-c", `printf '\033[?1049h\033[1mChecklist\033[0m 0/3'; sleep 10`},
		Cols: 80, Rows: 24, Marker: "Checklist 0/3", Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d > 5*time.Second {
		t.Errorf("first frame after %s", d)
	}
}

func TestFirstFramePTYTimesOutWithTheScreen(t *testing.T) {
	_, err := FirstFramePTY(context.Background(), Screen{
		Argv: []string{"sh", "-c", `printf 'something else'; sleep 10`},
		Cols: 80, Rows: 24, Marker: "Checklist", Timeout: 300 * time.Millisecond,
	})
	if err == nil {
		t.Fatal("no error without the marker")
	}
	if want := "something else"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not show the screen (%q)", err, want)
	}
}
