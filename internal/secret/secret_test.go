package secret

import (
	"strings"
	"testing"
)

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

// Structure first, then the value only where it stands as a token: a
// short or common-word password never mangles an identifier, and one the
// user name shares masks that name as well.
func TestScrubberMasksTokensNotParts(t *testing.T) {
	tests := []struct{ secret, in, want string }{
		{"clinic", "SELECT clinician_id FROM clinic_shift; password clinic", "SELECT clinician_id FROM clinic_shift; password ***"},
		{"shift", "config_shift applied; the night shift is over", "config_shift applied; the night *** is over"},
		{"rel_", "database rel_small; rel_ alone", "database rel_small; *** alone"},
		{"postgres", "pg_dump --dbname=postgres://postgres@db:5432/app", "pg_dump --dbname=***://***@db:5432/app"},
		{"postgres", "postgres://postgres:postgres@db/app", "***://***:***@db/app"},
		{"s3cret", `DATABASE_URL=postgres://app:s3cret@db/app ./manage.py migrate`, `DATABASE_URL=postgres://app:***@db/app ./manage.py migrate`},
		{"s3cret", "s3cret_key s3cret2 xs3cret \"s3cret\" (s3cret)", "s3cret_key s3cret2 xs3cret \"***\" (***)"},
		{"-pass!", "x-pass! --pass!", "x*** -***"},
		{"pässwörd", "überpässwörd pässwörd", "überpässwörd ***"},
		{"hunter2", "PGPASSWORD=anything REDISCLI_AUTH=other", "PGPASSWORD=*** REDISCLI_AUTH=***"},
	}
	for _, tt := range tests {
		var s Scrubber
		s.Add(tt.secret)
		if got := s.Scrub(tt.in); got != tt.want {
			t.Errorf("secret %q: Scrub(%q)\n got %q\nwant %q", tt.secret, tt.in, got, tt.want)
		}
	}
}

// JSON is scrubbed string by string, decoded, so a secret is found however
// JSON escaped it, and everything else is kept byte for byte.
func TestScrubJSON(t *testing.T) {
	var s Scrubber
	s.Add(`p&ss"w<rd`, "shift")
	in := `{"text":"pw p\u0026ss\"w\u003crd; config_shift","n":12345678901234567890,"url":"redis://:x@h/0","shift":["shift",1.50]}`
	want := `{"text":"pw ***; config_shift","n":12345678901234567890,"url":"redis://:***@h/0","***":["***",1.50]}`
	got := string(s.ScrubJSON([]byte(in)))
	if got != want {
		t.Errorf("ScrubJSON\n got %s\nwant %s", got, want)
	}
	plain := []byte(`{"a":"nothing secret here","b":[1,2]}`)
	if got := s.ScrubJSON(plain); &got[0] != &plain[0] {
		t.Error("JSON with nothing to scrub should come back as it is")
	}
}

// FuzzScrub proves the properties display redaction rests on: scrubbing
// twice changes nothing more; text that holds no registered secret and no
// password structure comes back unchanged; and no secret is left standing
// as a token.
func FuzzScrub(f *testing.F) {
	for _, c := range []struct{ secret, text string }{
		{"postgres", "postgres://postgres:postgres@db/postgres"},
		{"clinic", "clinician clinic_shift clinic"},
		{"shift", "config_shift shift"},
		{"rel_", "rel_small rel_"},
		{"**a", "b**a! **aa**a"},
		{"a**", "a**a** x"},
		{"s3cret", `{"k":"s3cret"} password=s3cret redis://:s3cret@h`},
		{"pässwörd", "überpässwörd pässwörd"},
	} {
		f.Add(c.secret, c.text)
	}
	f.Fuzz(func(t *testing.T, secret, text string) {
		var s Scrubber
		s.Add(secret)
		once := s.Scrub(text)
		if twice := s.Scrub(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", text, once, twice)
		}
		if (len(secret) < MinSecret || !strings.Contains(text, secret)) && once != RedactText(text) {
			t.Fatalf("text without the secret %q changed beyond its structure: %q -> %q", secret, text, once)
		}
		if RedactText(text) == text && !strings.Contains(text, secret) && once != text {
			t.Fatalf("text with neither secret nor password changed: %q -> %q", text, once)
		}
		if len(secret) >= MinSecret && maskTokens(once, secret) != once {
			t.Fatalf("secret %q still stands as a token in %q", secret, once)
		}
	})
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
