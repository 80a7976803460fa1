package plural

import "testing"

func TestCountAndWord(t *testing.T) {
	for _, tt := range []struct {
		n          int
		count, was string
	}{
		{0, "0 lines", "were"},
		{1, "1 line", "was"},
		{2, "2 lines", "were"},
		{1000, "1000 lines", "were"},
	} {
		if got := Count(tt.n, "line", "lines"); got != tt.count {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.count)
		}
		if got := Word(int64(tt.n), "was", "were"); got != tt.was {
			t.Errorf("Word(%d) = %q, want %q", tt.n, got, tt.was)
		}
	}
	// Irregular plurals are the caller's to give.
	if got := Count(3, "stored summary", "stored summaries"); got != "3 stored summaries" {
		t.Errorf("Count(3, summary) = %q", got)
	}
}

func TestAll(t *testing.T) {
	for n, want := range map[int]string{
		0:   "0 stored summaries agree",
		1:   "the 1 stored summary agrees",
		700: "all 700 stored summaries agree",
	} {
		if got := All(n, "stored summary", "stored summaries") + " " + Word(n, "agrees", "agree"); got != want {
			t.Errorf("All(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestList(t *testing.T) {
	for _, tt := range []struct {
		items []string
		want  string
	}{
		{nil, ""},
		{[]string{"cache"}, "cache"},
		{[]string{"cache", "summaries"}, "cache and summaries"},
		{[]string{"cache", "summaries", "migrations"}, "cache, summaries and migrations"},
	} {
		if got := List(tt.items); got != tt.want {
			t.Errorf("List(%q) = %q, want %q", tt.items, got, tt.want)
		}
	}
}
