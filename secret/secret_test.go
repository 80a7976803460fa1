package secret

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db/app", "postgres://app:***@db/app"},
		{"postgres://app@db/app", "postgres://app@db/app"},
		{"postgresql://app:p%40ss@db:5432/app?sslmode=disable", "postgresql://app:***@db:5432/app?sslmode=disable"},
		{"redis://:hunter22@cache:6379/1", "redis://:***@cache:6379/1"},
		{"redis://cache:6379/1", "redis://cache:6379/1"},
		{"postgres://db/app?password=s3cret&sslmode=disable", "postgres://db/app?password=***&sslmode=disable"},
		{"host=db user=app password=s3cret dbname=app", "host=db user=app password=*** dbname=app"},
		{"host=db password='with space' dbname=app", "host=db password=*** dbname=app"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	in := `pg_dump: error: connection to "postgres://app:s3cret@db:5432/app" failed`
	want := `pg_dump: error: connection to "postgres://app:***@db:5432/app" failed`
	if got := RedactText(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestScrubber(t *testing.T) {
	var s Scrubber
	s.AddURL("postgres://app:s3cret-long@db/app")
	s.AddURL("redis://:r3dispw@cache/0")
	s.Add("", "ab") // ignored: too short to scrub safely
	got := s.Scrub("PGPASSWORD=s3cret-long and AUTH r3dispw; ab stays")
	want := "PGPASSWORD=*** and AUTH ***; ab stays"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var nilScrubber *Scrubber
	if got := nilScrubber.Scrub("redis://:pw12@h/0"); got != "redis://:***@h/0" {
		t.Errorf("nil scrubber: got %q", got)
	}
}

func TestPasswords(t *testing.T) {
	got := Passwords("postgres://app:pw1@db/app?password=pw2")
	if len(got) != 2 {
		t.Fatalf("got %v, want two passwords", got)
	}
	if got := Passwords("host=db password=pw3"); len(got) != 1 || got[0] != "pw3" {
		t.Fatalf("kv DSN: got %v", got)
	}
}

// redactTextAlways is RedactText without the pre-checks: the reference.
func redactTextAlways(s string) string {
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Mask+"${3}")
	return kvPassword.ReplaceAllString(s, "${1}"+Mask)
}

var redactCorpus = []string{
	"", "plain text", "postgres://app:s3cret@db:5432/app", "redis://:pw@h/0", "redis://h:6379/0 and user@example.com",
	"a://b:c@d", "x://:@y", "x://u:p q@h", "x://u/p:q@h", "x://u:p/q@h", "see http://h:80/ then mailto:a@b",
	"https://u:p@h/ https://u2:p2@h2/", "s3://b/k then ftp://u:pw@host", "PASSWORD=x", "pwd = 'with space'",
	"requirepass hunter2", "requirePass=hunter2", "host=db Password=s3cret", "?pass=1&x=2", "paſſword=s3cret",
	"pasS=1", "PwD=1", "p", "pas", "pw", "\t\npassword=\tx", "☃://u:p@h", "x://u\u00e9:p\u00e9@h", "x://u:p\x00@h",
}

func TestRedactTextChecksOnlySkipTextTheExpressionsLeaveAlone(t *testing.T) {
	for _, s := range append(redactCorpus, planEvent[:2000]) {
		if got, want := RedactText(s), redactTextAlways(s); got != want {
			t.Errorf("RedactText(%q) = %q, the expressions alone give %q", s, got, want)
		}
	}
}

func FuzzRedactText(f *testing.F) {
	for _, s := range redactCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := RedactText(s), redactTextAlways(s); got != want {
			t.Errorf("RedactText(%q) = %q, the expressions alone give %q", s, got, want)
		}
	})
}
