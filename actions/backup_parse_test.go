package actions

import (
	"strings"
	"testing"
)

// pgbackrest verify exits 0 whatever it finds: its text is what tells.
func TestVerifyProblemReadsPgBackRestsReport(t *testing.T) {
	ok := `stanza: main
status: ok
  archiveId: 15-1, total WAL checked: 2, total valid WAL: 2
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261203-093414F, status: valid, total files checked: 964, total valid files: 964
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
`
	for _, tc := range []struct {
		name, text, want string
	}{
		{"valid", ok, ""},
		{"a corrupt file", strings.Replace(strings.Replace(ok, "status: ok", "status: error", 1), "status: valid", "status: invalid", 1), "stanza main status error"},
		{"another stanza's trouble", "stanza: other\nstatus: error\n" + ok, ""},
		{"nothing said", "", "its report names no status for stanza main"},
	} {
		if got := verifyProblem(tc.text, "main", "20261203-093414F"); !strings.Contains(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWalNameComparesArchivedFiles(t *testing.T) {
	seg := "000000010000000000000003"
	for file, covers := range map[string]bool{
		"000000010000000000000003":                 true,
		"000000010000000000000004":                 true,
		"000000010000000000000004.00000028.backup": true,
		"000000010000000000000002":                 false,
		"000000010000000000000002.partial":         false,
		"00000002.history":                         false,
		"":                                         false,
	} {
		if got := walName(file) >= seg; got != covers {
			t.Errorf("%q covers %s: %v, want %v", file, seg, got, covers)
		}
	}
}

func TestTablePatternsQuoteOnlyWhatNeedsIt(t *testing.T) {
	for _, tc := range []struct{ schema, name, want string }{
		{"public", "config_shift", "public.config_shift"},
		{"public", "Shift", `public."Shift"`},
		{"app data", "x", `"app data".x`},
		{"public", `we"ird`, `public."we""ird"`},
	} {
		if got := (relation{schema: tc.schema, name: tc.name}).pattern(); got != tc.want {
			t.Errorf("%s.%s: %s, want %s", tc.schema, tc.name, got, tc.want)
		}
	}
}

func TestArchiveCommandDirectory(t *testing.T) {
	for cmd, dir := range map[string]string{
		`test ! -f '/var/lib/archive'/%f && cp %p '/var/lib/archive'/%f`: "/var/lib/archive",
		`cp %p /mnt/wal/%f`:                        "/mnt/wal",
		`cp -i "%p" /mnt/wal/%f </dev/null`:        "/mnt/wal",
		`pgbackrest --stanza=main archive-push %p`: "",
		`rsync -a %p backup:/wal/%f`:               "",
	} {
		got := ""
		if m := archiveDirRE.FindStringSubmatch(cmd); m != nil {
			got = m[1]
		}
		if got != dir {
			t.Errorf("%s: %q, want %q", cmd, got, dir)
		}
	}
}
