package serve

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"steady/internal/serve/servetest"
	"steady/internal/session"
)

// A key not in authorized_keys is refused, and the refusal is logged
// with the key's fingerprint; password and keyboard-interactive are not
// even offered.
func TestUnknownKeyRefused(t *testing.T) {
	t.Parallel()
	f := start(t, nil)

	res := f.client("mallory", f.keys.mallory).Run(t, "-tt")
	if res.Code != 255 || !strings.Contains(res.Stderr, "Permission denied (publickey)") {
		t.Errorf("unknown key: exit %d, stderr %q; want 255 and Permission denied (publickey)", res.Code, res.Stderr)
	}
	line := f.logs.waitFor(t, "key refused", f.keys.mallory.Fingerprint)
	if !servetest.Contains(line, "user=mallory", "not in the authorized keys file") {
		t.Errorf("refusal log line lacks the user or the reason: %s", line)
	}

	// Only publickey is offered: a client that would rather type a
	// password has nothing to try.
	res = f.client("alice", f.keys.alice).Run(t, "-tt", "-o", "PreferredAuthentications=password,keyboard-interactive")
	if res.Code != 255 || !strings.Contains(res.Stderr, "Permission denied (publickey)") {
		t.Errorf("password auth: exit %d, stderr %q; want 255 and Permission denied (publickey)", res.Code, res.Stderr)
	}

	if joined := f.eventsOf(session.TypeJoined); len(joined) != 0 {
		t.Errorf("refused clients joined the incident: %+v", joined)
	}
}

// liar offers a public key it cannot sign for: the first half of the
// CVE-2024-45337 misuse, where a server trusts the key offered last
// instead of the key that signed.
type liar struct{ pub gossh.PublicKey }

func (l liar) PublicKey() gossh.PublicKey { return l.pub }
func (l liar) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return nil, errors.New("no private key")
}

// A client offers bob's key (observer) and then alice's (operator)
// without signing, and finally signs with bob's: the public-key callback
// ran last for alice, but the session is bob's, an observer.
func TestIdentityIsTheKeyThatSigned(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	bobSigner := parseSigner(t, f.keys.bob.Path)
	alicePub := parsePublic(t, f.keys.alice.Path+".pub")

	methods := []gossh.AuthMethod{
		gossh.PublicKeys(liar{bobSigner.PublicKey()}),
		gossh.PublicKeys(liar{alicePub}),
		gossh.PublicKeys(bobSigner),
	}
	cfg := &gossh.ClientConfig{
		User:            "bob",
		HostKeyCallback: gossh.FixedHostKey(f.srv.HostKey()),
		AuthCallback: func(*gossh.ClientAuthContext) (gossh.AuthMethod, error) {
			if len(methods) == 0 {
				return nil, errors.New("no method left")
			}
			m := methods[0]
			methods = methods[1:]
			return m, nil
		},
	}
	conn, err := gossh.Dial("tcp", f.srv.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if len(methods) != 0 {
		t.Fatalf("authenticated before the signing key was tried (%d methods left)", len(methods))
	}
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	sess.Stdout, sess.Stderr = io.Discard, io.Discard
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	f.waitState("bob online", func(st *session.State) bool { _, ok := st.Online["bob"]; return ok })

	joined := f.eventsOf(session.TypeJoined)
	if len(joined) != 1 {
		t.Fatalf("joined events = %+v, want bob's alone", joined)
	}
	got := joined[0].Actor
	want := session.Actor{Name: "bob", Via: "ssh", Fingerprint: f.keys.bob.Fingerprint, Role: session.Observer}
	if got != want {
		t.Errorf("the session's actor is %+v, want %+v", got, want)
	}
	f.logs.waitFor(t, "msg=connected", "name=bob", "role=observer", f.keys.bob.Fingerprint)
}

func parseSigner(t *testing.T, path string) gossh.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parsePublic(t *testing.T, path string) gossh.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
