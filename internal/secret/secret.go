// Package secret keeps credentials out of everything steady shows or records:
// it redacts passwords in connection URLs and DSNs and scrubs known secrets
// from free text such as command output.
package secret

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Mask is what a redacted secret is replaced with.
const Mask = "***"

// kvPassword matches password=... in keyword/value DSNs and query
// strings, and the variables that carry passwords to tools
// (PGPASSWORD=..., REDISCLI_AUTH=...).
var kvPassword = regexp.MustCompile(`(?i)((?:^|[\s&?;])(?:password|pass|pwd|requirepass|sslpassword|pgpassword|rediscli_auth)\s*=\s*)('[^']*'[^\s&;]*|[^\s&;]+)`)

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
// "pass" (password, requirepass, pgpassword) or "pwd" or "auth"
// (rediscli_auth) in any case, or the long s that (?i) also takes for an
// s.
func mayHavePasswordKey(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] | 0x20 {
		case 'p':
			if rest := s[i:]; len(rest) >= 4 && strings.EqualFold(rest[:4], "pass") || len(rest) >= 3 && strings.EqualFold(rest[:3], "pwd") {
				return true
			}
		case 'a':
			if rest := s[i:]; len(rest) >= 4 && strings.EqualFold(rest[:4], "auth") {
				return true
			}
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

// Scrubber removes known secret values from text shown or recorded. The
// zero value is ready to use and safe for concurrent use.
//
// It redacts by structure first (the password of any URL, password= and
// its kin in DSNs and environment assignments), then by value, and by
// value only where a secret stands as a token of its own: a secret that
// begins or ends with a letter, digit or underscore is masked only where
// no such character touches it. So a password "shift" is masked in "shift
// rota" but leaves "config_shift" alone, and one equal to the user name
// ("postgres") masks that name too, since it would give the password away.
// A Scrubber is for display and the journal only: nothing steady runs or
// hands to a tool ever goes through it.
type Scrubber struct {
	mu      sync.RWMutex
	secrets []string
}

// MinSecret is the shortest value a Scrubber masks by value; shorter ones
// would mask ordinary words (structure still redacts them in URLs).
const MinSecret = 3

// Add registers secrets (empty and shorter than MinSecret are ignored).
func (s *Scrubber) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len(v) < MinSecret || slices.Contains(s.secrets, v) {
			continue
		}
		s.secrets = append(s.secrets, v)
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.SliceStable(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
}

// AddURL registers the passwords found in a connection URL or DSN.
func (s *Scrubber) AddURL(u string) { s.Add(Passwords(u)...) }

// Scrub returns text with every password inside a connection string, and
// every registered secret standing as a token, replaced by Mask.
func (s *Scrubber) Scrub(text string) string {
	text = RedactText(text)
	if s == nil {
		return text
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// A secret holding the mask's own character can stand again as a
	// token once its neighbour is masked ("**a" in "**a*a"); going on
	// until nothing changes keeps scrubbing idempotent. Every pass that
	// changes something shortens the text or turns a byte into '*', so
	// this ends; for a secret without '*' masking cannot make a new
	// occurrence, and the second pass only confirms the first.
	for {
		before := text
		for _, v := range s.secrets {
			if strings.Contains(text, v) {
				text = maskTokens(text, v)
			}
		}
		if text == before {
			break
		}
		text = RedactText(text)
	}
	return text
}

// has reports whether text holds a registered secret anywhere.
func (s *Scrubber) has(text []byte) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.secrets {
		if bytes.Contains(text, []byte(v)) {
			return true
		}
	}
	return false
}

// maskTokens replaces the occurrences of secret that stand as a token.
func maskTokens(text, secret string) string {
	first, _ := utf8.DecodeRuneInString(secret)
	last, _ := utf8.DecodeLastRuneInString(secret)
	var b strings.Builder
	done := 0 // text[:done] is written to b
	for from := 0; ; {
		i := strings.Index(text[from:], secret)
		if i < 0 {
			break
		}
		start, end := from+i, from+i+len(secret)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if (!isWord(first) || start == 0 || !isWord(before)) && (!isWord(last) || end == len(text) || !isWord(after)) {
			b.WriteString(text[done:start])
			b.WriteString(Mask)
			done, from = end, end
			continue
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		from = start + size
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

// isWord reports whether r can be part of an identifier.
func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// ScrubJSON scrubs every string (keys too) of an encoded JSON value as
// Scrub does, after decoding it, so a secret is found however JSON
// escaped it; the rest of the encoding is kept byte for byte. raw must be
// valid JSON; the result is.
func (s *Scrubber) ScrubJSON(raw []byte) []byte {
	if !bytes.ContainsRune(raw, '\\') && !s.has(raw) && !mayHaveUserinfo(string(raw)) && !mayHavePasswordKey(string(raw)) {
		return raw
	}
	var out []byte
	done := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' {
			if raw[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(raw) {
			break
		}
		var v string
		if err := json.Unmarshal(raw[i:end+1], &v); err == nil {
			if scrubbed := s.Scrub(v); scrubbed != v {
				enc, _ := json.Marshal(scrubbed)
				out = append(append(out, raw[done:i]...), enc...)
				done = end + 1
			}
		}
		i = end
	}
	if done == 0 {
		return raw
	}
	return append(out, raw[done:]...)
}
