package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// The host key is made on first start (ed25519, 0600 in a 0700
// directory, its public half beside it) and the same key is used after.
func TestHostKeyCreatedOnceAndReused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", ".steady", "host_ed25519")
	first, created, err := LoadHostKey(path)
	if err != nil || !created {
		t.Fatalf("first start: created %v, err %v", created, err)
	}
	if first.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Errorf("host key type %s, want ed25519", first.PublicKey().Type())
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %04o, want %04o", p, got, want)
		}
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil || !bytes.Equal(pub, gossh.MarshalAuthorizedKey(first.PublicKey())) {
		t.Errorf("public key file = %q (%v), want the host key's public half", pub, err)
	}

	again, created, err := LoadHostKey(path)
	if err != nil || created {
		t.Fatalf("second start: created %v, err %v", created, err)
	}
	if !bytes.Equal(again.PublicKey().Marshal(), first.PublicKey().Marshal()) {
		t.Error("the second start made a new host key: every client would see a changed host key")
	}
}

// A host key others can read is refused, with the fix.
func TestHostKeyReadableByOthersRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "host_ed25519")
	if _, _, err := LoadHostKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadHostKey(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("err = %v, want a refusal naming chmod 600", err)
	}
}

func TestKnownHostsLine(t *testing.T) {
	t.Parallel()
	s, _, err := LoadHostKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
	for addr, want := range map[string]string{
		"127.0.0.1:2222": "[127.0.0.1]:2222 " + key + "\n",
		"bastion:22":     "bastion " + key + "\n",
	} {
		if got := KnownHostsLine(addr, s.PublicKey()); got != want {
			t.Errorf("KnownHostsLine(%s) = %q, want %q", addr, got, want)
		}
	}
}
