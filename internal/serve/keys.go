package serve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"steady/internal/session"
)

// AuthorizedKey is one entry of the authorized_keys file: a public key,
// the person it belongs to and the role it grants.
type AuthorizedKey struct {
	Key gossh.PublicKey
	// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints it.
	Fingerprint string
	// Name is the first word of the key's comment that is not a
	// key=value token ("" when the comment has none).
	Name string
	// Role is what the key may do, after steady.yaml's lists are applied.
	Role session.Role
	// Line is the key's line in the file, for messages.
	Line int
}

// Roles are steady.yaml's serve.operators and serve.observers: key
// fingerprints (SHA256:...) or key names from authorized_keys comments.
type Roles struct {
	Operators []string
	Approvers []string
	Observers []string
}

// roleToken is the authorized_keys comment token that sets a key's role.
const roleToken = "role="

// ParseAuthorizedKeys reads an authorized_keys file's content. A line is
//
//	ssh-ed25519 AAAA... NAME [role=operator|role=observer]
//
// The role is least privilege: a key is an observer when its comment or
// steady.yaml's observers say so, else an operator when its comment or
// steady.yaml's operators say so, else an observer. Lines steady cannot
// honour (malformed keys, OpenSSH options such as from= that steady does
// not enforce, certificates, unknown roles, repeated keys) are returned
// as problems and left out, so a mistake never grants more than intended.
func ParseAuthorizedKeys(file string, data []byte, roles Roles) ([]AuthorizedKey, []error) {
	var keys []AuthorizedKey
	var problems []error
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeyLine(line, n, roles)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s:%d: %w", file, n, err))
			continue
		}
		if first, dup := seen[k.Fingerprint]; dup {
			problems = append(problems, fmt.Errorf("%s:%d: the key %s is already on line %d: keep one line per key", file, n, k.Fingerprint, first))
			continue
		}
		seen[k.Fingerprint] = n
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Errorf("%s: %w", file, err))
	}
	return keys, problems
}

func parseKeyLine(line string, n int, roles Roles) (AuthorizedKey, error) {
	pub, comment, options, rest, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return AuthorizedKey{}, fmt.Errorf("not a public key (%v): paste the .pub file's line as it is", err)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return AuthorizedKey{}, errors.New("more than one key on the line: put each key on its own line")
	}
	if len(options) > 0 {
		// OpenSSH would enforce from=, command=, expiry-time=...; steady
		// does not, and silently ignoring a restriction would grant more
		// than the file says.
		return AuthorizedKey{}, fmt.Errorf("options are not supported (%s): remove them, and restrict access at the bastion instead", strings.Join(options, ","))
	}
	if _, ok := pub.(*gossh.Certificate); ok {
		return AuthorizedKey{}, errors.New("certificates are not supported: list the plain public key")
	}
	k := AuthorizedKey{Key: pub, Fingerprint: gossh.FingerprintSHA256(pub), Line: n}
	var said session.Role
	for _, word := range strings.Fields(comment) {
		if v, ok := strings.CutPrefix(word, roleToken); ok {
			switch r := session.Role(v); r {
			case session.Operator, session.Approver, session.Observer:
				said = leastPrivilege(said, r)
			default:
				return AuthorizedKey{}, fmt.Errorf("%s: the role is role=%s, role=%s or role=%s", word, session.Operator, session.Approver, session.Observer)
			}
			continue
		}
		if k.Name == "" && !strings.Contains(word, "=") {
			k.Name = word
		}
	}
	k.Role = resolveRole(k, said, roles)
	return k, nil
}

// leastPrivilege combines two statements of a role: the lesser wins
// (observer, then approver, then operator).
func leastPrivilege(a, b session.Role) session.Role {
	for _, r := range session.Roles {
		if a == r || b == r {
			return r
		}
	}
	return ""
}

// resolveRole applies steady.yaml's lists to what the comment said.
func resolveRole(k AuthorizedKey, said session.Role, roles Roles) session.Role {
	if listed(roles.Observers, k) {
		said = leastPrivilege(said, session.Observer)
	}
	if listed(roles.Approvers, k) {
		said = leastPrivilege(said, session.Approver)
	}
	if listed(roles.Operators, k) {
		said = leastPrivilege(said, session.Operator)
	}
	if said == "" {
		return session.Observer
	}
	return said
}

func listed(list []string, k AuthorizedKey) bool {
	for _, entry := range list {
		entry = strings.TrimSpace(entry)
		if entry == k.Fingerprint || (k.Name != "" && entry == k.Name) {
			return true
		}
	}
	return false
}

// unmatched returns the steady.yaml role entries that name no key, so a
// typo there is reported instead of silently granting nothing.
func unmatched(keys []AuthorizedKey, roles Roles) []string {
	var out []string
	for _, list := range [][]string{roles.Operators, roles.Approvers, roles.Observers} {
		for _, entry := range list {
			found := false
			for _, k := range keys {
				if listed([]string{entry}, k) {
					found = true
					break
				}
			}
			if !found {
				out = append(out, entry)
			}
		}
	}
	return out
}

// ReadAuthorizedKeys reads and checks an authorized_keys file as the
// server does at start: every problem is an error (naming file:line), as
// is a file others may write or one without a key. `steady serve` calls
// it before opening the incident, so a bad file costs nothing.
func ReadAuthorizedKeys(path string, roles Roles) ([]AuthorizedKey, error) {
	r := &keyring{path: path, roles: roles}
	keys, problems, err := r.load()
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w\nfix these lines (one key per line: the .pub line, then a name and role=operator or role=observer)", errors.Join(problems...))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s lists no key: add the team's public keys, one per line, e.g.\n  ssh-ed25519 AAAA... alice role=operator", path)
	}
	return keys, nil
}

// keyring is the authorized_keys file as last read. It is read again
// whenever the file changes, so a key added or removed during an incident
// takes effect for the next connection without a restart; a line that
// breaks only refuses that line's key.
type keyring struct {
	path  string
	roles Roles
	warn  func(msg string, args ...any)

	mu      sync.Mutex
	modTime time.Time
	size    int64
	keys    []AuthorizedKey
}

// errWritableKeys explains why a file others can write is refused.
var errWritableKeys = errors.New("others can write it, and could make themselves operators")

// load reads the file if it changed since the last read. It returns the
// problems of a fresh read (nil when nothing changed).
func (r *keyring) load() ([]AuthorizedKey, []error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fi, err := os.Stat(r.path)
	if err != nil {
		return nil, nil, fmt.Errorf("authorized keys: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, nil, fmt.Errorf("authorized keys %s (mode %04o): %w; chmod go-w %s", r.path, fi.Mode().Perm(), errWritableKeys, r.path)
	}
	if r.keys != nil && fi.ModTime().Equal(r.modTime) && fi.Size() == r.size {
		return r.keys, nil, nil
	}
	data, err := os.ReadFile(r.path)
	if err != nil {
		return nil, nil, fmt.Errorf("authorized keys: %w", err)
	}
	keys, problems := ParseAuthorizedKeys(r.path, data, r.roles)
	r.keys, r.modTime, r.size = keys, fi.ModTime(), fi.Size()
	if r.keys == nil {
		r.keys = []AuthorizedKey{}
	}
	return r.keys, problems, nil
}

// keysVersion tells one reading of the file from another.
type keysVersion struct {
	modTime time.Time
	size    int64
}

// current reads the file like load and returns the keys with the version
// they were read at, for a watcher to compare with the one it last saw.
func (r *keyring) current() ([]AuthorizedKey, keysVersion, error) {
	keys, problems, err := r.load()
	if err != nil {
		return nil, keysVersion{}, err
	}
	for _, p := range problems {
		r.warn("authorized keys: line ignored", "problem", p.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return keys, keysVersion{r.modTime, r.size}, nil
}

// lookup returns the entry of an offered key. Every failure to read the
// file refuses the key: access control fails closed.
func (r *keyring) lookup(offered gossh.PublicKey) (AuthorizedKey, bool) {
	keys, problems, err := r.load()
	if err != nil {
		r.warn("every key is refused until the authorized keys file is fixed", "error", err)
		return AuthorizedKey{}, false
	}
	for _, p := range problems {
		r.warn("authorized keys: line ignored", "problem", p.Error())
	}
	want := offered.Marshal()
	for _, k := range keys {
		if bytes.Equal(k.Key.Marshal(), want) {
			return k, true
		}
	}
	return AuthorizedKey{}, false
}
