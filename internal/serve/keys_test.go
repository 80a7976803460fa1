package serve

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"steady/internal/session"
)

// newPublic returns a fresh ed25519 public key and its authorized_keys
// form without a comment.
func newPublic(t *testing.T) (gossh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

func TestRolesAreLeastPrivilege(t *testing.T) {
	t.Parallel()
	pub, line := newPublic(t)
	fp := gossh.FingerprintSHA256(pub)
	for _, tc := range []struct {
		name    string
		comment string
		roles   Roles
		want    session.Role
		wantWho string
	}{
		{"no role is an observer", "alice", Roles{}, session.Observer, "alice"},
		{"comment operator", "alice role=operator", Roles{}, session.Operator, "alice"},
		{"comment observer", "bob role=observer", Roles{}, session.Observer, "bob"},
		{"the role may come first", "role=operator alice@laptop", Roles{}, session.Operator, "alice@laptop"},
		{"yaml operator by name", "carol", Roles{Operators: []string{"carol"}}, session.Operator, "carol"},
		{"yaml operator by fingerprint", "", Roles{Operators: []string{fp}}, session.Operator, ""},
		{"yaml observer beats comment operator", "alice role=operator", Roles{Observers: []string{"alice"}}, session.Observer, "alice"},
		{"comment observer beats yaml operator", "bob role=observer", Roles{Operators: []string{fp}}, session.Observer, "bob"},
		{"both roles in the comment", "dave role=operator role=observer", Roles{}, session.Observer, "dave"},
		{"another name's entry does not match", "erin", Roles{Operators: []string{"alice"}}, session.Observer, "erin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, problems := ParseAuthorizedKeys("authorized_keys", []byte(line+" "+tc.comment+"\n"), tc.roles)
			if len(problems) > 0 || len(keys) != 1 {
				t.Fatalf("keys %+v, problems %v", keys, problems)
			}
			k := keys[0]
			if k.Role != tc.want || k.Name != tc.wantWho || k.Fingerprint != fp || k.Line != 1 {
				t.Errorf("got role %s name %q fingerprint %s line %d; want %s %q %s 1", k.Role, k.Name, k.Fingerprint, k.Line, tc.want, tc.wantWho, fp)
			}
		})
	}
}

// Lines steady cannot honour are reported with file:line and left out;
// the rest of the file still works.
func TestAuthorizedKeysProblems(t *testing.T) {
	t.Parallel()
	_, good := newPublic(t)
	_, other := newPublic(t)
	file := strings.Join([]string{
		"# team",
		"",
		good + " alice role=operator",
		"not a key at all",
		`from="10.0.0.0/8" ` + other + " mallory role=operator",
		other + " bob role=admin",
		good + " alice-again role=operator",
	}, "\n")
	keys, problems := ParseAuthorizedKeys("ak", []byte(file), Roles{})
	if len(keys) != 1 || keys[0].Name != "alice" {
		t.Errorf("keys = %+v, want alice's alone", keys)
	}
	want := []string{
		"ak:4: not a public key",
		"ak:5: options are not supported",
		"ak:6: role=admin",
		"ak:7: the key",
	}
	if len(problems) != len(want) {
		t.Fatalf("problems = %v, want %d", problems, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i].Error(), w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, problems[i], w)
		}
	}
}

// Entries of serve.operators/observers that match no key are found, so
// a typo there is reported.
func TestUnmatchedRoleEntries(t *testing.T) {
	t.Parallel()
	pub, line := newPublic(t)
	keys, _ := ParseAuthorizedKeys("ak", []byte(line+" alice\n"), Roles{})
	got := unmatched(keys, Roles{Operators: []string{"alice", "alcie"}, Observers: []string{gossh.FingerprintSHA256(pub), "SHA256:nope"}})
	if strings.Join(got, ",") != "alcie,SHA256:nope" {
		t.Errorf("unmatched = %v, want alcie and SHA256:nope", got)
	}
}

// The keyring reads the file again when it changes: a key removed during
// an incident is refused from the next connection on, and a file others
// can write refuses everyone.
func TestKeyringFollowsTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	alice, aliceLine := newPublic(t)
	bob, bobLine := newPublic(t)
	write := func(content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		// A later modification time than the last read, whatever the
		// file system's timestamp granularity.
		next := time.Now().Add(time.Duration(len(content)) * time.Second)
		if err := os.Chtimes(path, next, next); err != nil {
			t.Fatal(err)
		}
	}
	var warnings []string
	r := &keyring{path: path, warn: func(msg string, args ...any) { warnings = append(warnings, msg) }}

	write(aliceLine+" alice role=operator\n"+bobLine+" bob\n", 0o600)
	if k, ok := r.lookup(bob); !ok || k.Name != "bob" || k.Role != session.Observer {
		t.Errorf("bob = %+v %v, want an observer", k, ok)
	}

	write(aliceLine+" alice role=operator\n", 0o600)
	if _, ok := r.lookup(bob); ok {
		t.Error("bob's key still works after it was removed from the file")
	}
	if k, ok := r.lookup(alice); !ok || k.Role != session.Operator {
		t.Errorf("alice = %+v %v, want an operator", k, ok)
	}

	write(aliceLine+" alice role=operator\n", 0o666)
	if _, ok := r.lookup(alice); ok {
		t.Error("a world-writable authorized_keys file was trusted")
	}
	if len(warnings) == 0 || !strings.Contains(warnings[len(warnings)-1], "every key is refused") {
		t.Errorf("warnings = %v, want the refusal explained", warnings)
	}
}
