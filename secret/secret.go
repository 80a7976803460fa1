// Package secret keeps credentials out of everything steady shows or records:
// it redacts passwords in connection URLs and DSNs and scrubs known secrets
// from free text such as command output.
package secret

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask is what a redacted secret is replaced with.
const Mask = "***"

// kvPassword matches password=... in keyword/value DSNs and query strings.
var kvPassword = regexp.MustCompile(`(?i)((?:^|[\s&?;])(?:password|pass|pwd|requirepass)\s*=\s*)('[^']*'|[^\s&;]+)`)

// urlUserinfo matches scheme://user:password@ inside free text.
var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)`)

// RedactURL returns s with any password replaced by Mask. It understands
// URLs (postgres://app:pw@db/app, redis://:pw@host/0), keyword/value DSNs
// (host=db password=pw) and password query parameters. Text that is not a
// connection string is returned unchanged.
func RedactURL(s string) string {
	if s == "" {
		return s
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "REDACTEDPASSWORD")
			}
		}
		q := u.Query()
		changed := false
		for k := range q {
			if isSecretParam(k) {
				q.Set(k, "REDACTEDPASSWORD")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return strings.ReplaceAll(u.String(), "REDACTEDPASSWORD", Mask)
	}
	return RedactText(s)
}

// RedactText replaces passwords that appear in connection strings embedded
// in free text (log lines, error messages).
func RedactText(s string) string {
	// The expressions scan at about 12 MB/s, and a journal event can be
	// megabytes (a plan of 10,000 tasks): run each only on text where it
	// could match, which a plain scan tells far faster.
	if mayHaveUserinfo(s) {
		s = urlUserinfo.ReplaceAllString(s, "${1}"+Mask+"${3}")
	}
	if mayHavePasswordKey(s) {
		s = kvPassword.ReplaceAllString(s, "${1}"+Mask)
	}
	return s
}

// mayHaveUserinfo reports whether s has the shape urlUserinfo needs: "://",
// a user part without / : @ or white space, ":", a non-empty password part
// without @ / or white space, then "@".
func mayHaveUserinfo(s string) bool {
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			return false
		}
		s = s[i+3:]
		if u := strings.IndexAny(s, "/:@ \t\n\f\r"); u >= 0 && s[u] == ':' {
			if p := strings.IndexAny(s[u+1:], "@/ \t\n\f\r"); p > 0 && s[u+1+p] == '@' {
				return true
			}
		}
	}
}

// mayHavePasswordKey reports whether s holds a key kvPassword looks for:
// "pass" (password, requirepass) or "pwd" in any case, or the long s that
// (?i) also takes for an s.
func mayHavePasswordKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != 'p' {
			continue
		}
		if rest := s[i:]; len(rest) >= 4 && strings.EqualFold(rest[:4], "pass") || len(rest) >= 3 && strings.EqualFold(rest[:3], "pwd") {
			return true
		}
	}
	return strings.ContainsRune(s, '\u017f')
}

func isSecretParam(k string) bool {
	switch strings.ToLower(k) {
	case "password", "pass", "pwd", "sslpassword":
		return true
	}
	return false
}

// Passwords returns the passwords embedded in a connection URL or DSN, so a
// Scrubber can remove them from text that quotes them in another form.
func Passwords(s string) []string {
	var out []string
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		if u.User != nil {
			if p, ok := u.User.Password(); ok && p != "" {
				out = append(out, p)
			}
		}
		for k, vs := range u.Query() {
			if isSecretParam(k) {
				for _, v := range vs {
					if v != "" {
						out = append(out, v)
					}
				}
			}
		}
		return out
	}
	for _, m := range kvPassword.FindAllStringSubmatch(s, -1) {
		if v := strings.Trim(m[2], "'"); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Scrubber removes known secret values from text. The zero value is ready
// to use and safe for concurrent use.
type Scrubber struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers secrets (empty and very short values are ignored, since
// replacing them would mangle ordinary text).
func (s *Scrubber) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len(v) < 3 {
			continue
		}
		dup := false
		for _, have := range s.secrets {
			if have == v {
				dup = true
				break
			}
		}
		if !dup {
			s.secrets = append(s.secrets, v)
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
}

// AddURL registers the passwords found in a connection URL or DSN.
func (s *Scrubber) AddURL(u string) { s.Add(Passwords(u)...) }

// Scrub returns text with every registered secret and every password inside
// a connection string replaced by Mask.
func (s *Scrubber) Scrub(text string) string {
	if s != nil {
		s.mu.RLock()
		for _, v := range s.secrets {
			if strings.Contains(text, v) {
				text = strings.ReplaceAll(text, v, Mask)
			}
		}
		s.mu.RUnlock()
	}
	return RedactText(text)
}
