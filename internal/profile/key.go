package profile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StoredKey returns the key django-redis stores for key k: prefix:version:k.
func (c Cache) StoredKey(k string) string {
	return fmt.Sprintf("%s:%d:%s", c.KeyPrefix, c.Version, k)
}

// WorkedKeyOf returns the stored key of the cached worked-shift count of
// one clinician over [from, to] (YYYY-MM-DD); "" when the profile has no
// key template or the application builds keys its own way.
func (c Cache) WorkedKeyOf(clinician int64, from, to string) string {
	if c.WorkedKey == "" || c.CustomKeyFunction {
		return ""
	}
	k := strings.NewReplacer("{clinician}", strconv.FormatInt(clinician, 10), "{from}", from, "{to}", to).Replace(c.WorkedKey)
	return c.StoredKey(k)
}

// KeyParts is a stored worked-count key taken apart.
type KeyParts struct {
	Clinician int64
	From, To  time.Time
}

// WorkedKeyMatcher turns the worked-count key template into a parser of
// stored keys and a SCAN MATCH pattern matching all of them; nil and ""
// when the profile has no usable template.
func (c Cache) WorkedKeyMatcher() (func(key string) (KeyParts, bool), string) {
	if c.WorkedKey == "" || c.CustomKeyFunction {
		return nil, ""
	}
	tpl := c.StoredKey(c.WorkedKey)
	segs, ok := keySegments(tpl)
	if !ok {
		return nil, ""
	}
	glob := globEscape(tpl)
	for _, ph := range []string{"{clinician}", "{from}", "{to}"} {
		glob = strings.ReplaceAll(glob, ph, "*")
	}
	return func(key string) (KeyParts, bool) { return parseKey(segs, key) }, glob
}

// keySegment is a literal run of a key template, or one of its
// placeholders.
type keySegment struct {
	literal string
	field   string // "clinician", "from" or "to"
}

// keySegments splits a template into literals and placeholders; ok is
// false unless each placeholder appears exactly once and the clinician is
// not followed directly by another placeholder (nothing would end it).
func keySegments(tpl string) ([]keySegment, bool) {
	var segs []keySegment
	seen := map[string]int{}
	for tpl != "" {
		i := strings.IndexByte(tpl, '{')
		name, rest, found := "", "", false
		if i >= 0 {
			if j := strings.IndexByte(tpl[i:], '}'); j > 0 {
				name, rest, found = tpl[i+1:i+j], tpl[i+j+1:], true
			}
		}
		if !found || (name != "clinician" && name != "from" && name != "to") {
			if found {
				// Not a placeholder: keep the brace as text.
				segs = append(segs, keySegment{literal: tpl[:i+1]})
				tpl = tpl[i+1:]
				continue
			}
			segs = append(segs, keySegment{literal: tpl})
			break
		}
		if i > 0 {
			segs = append(segs, keySegment{literal: tpl[:i]})
		}
		segs = append(segs, keySegment{field: name})
		seen[name]++
		tpl = rest
	}
	// Merge adjacent literals.
	var out []keySegment
	for _, s := range segs {
		if n := len(out); n > 0 && s.field == "" && out[n-1].field == "" {
			out[n-1].literal += s.literal
			continue
		}
		out = append(out, s)
	}
	for i, s := range out {
		if s.field == "clinician" && i+1 < len(out) && out[i+1].field != "" {
			return nil, false
		}
	}
	return out, seen["clinician"] == 1 && seen["from"] == 1 && seen["to"] == 1
}

// parseKey takes a stored key apart by its template's segments, without a
// regular expression: a full cache audit parses a million keys.
func parseKey(segs []keySegment, key string) (KeyParts, bool) {
	var kp KeyParts
	for i, s := range segs {
		switch s.field {
		case "":
			if !strings.HasPrefix(key, s.literal) {
				return KeyParts{}, false
			}
			key = key[len(s.literal):]
		case "clinician":
			end := len(key)
			if i+1 < len(segs) {
				end = strings.Index(key, segs[i+1].literal)
			}
			if end <= 0 {
				return KeyParts{}, false
			}
			var id int64
			for _, r := range key[:end] {
				if r < '0' || r > '9' || id > (1<<62)/10 {
					return KeyParts{}, false
				}
				id = id*10 + int64(r-'0')
			}
			kp.Clinician, key = id, key[end:]
		default:
			if len(key) < 10 {
				return KeyParts{}, false
			}
			d, ok := parseDate(key[:10])
			if !ok {
				return KeyParts{}, false
			}
			if s.field == "from" {
				kp.From = d
			} else {
				kp.To = d
			}
			key = key[10:]
		}
	}
	return kp, key == ""
}

// KeyPatterns are the SCAN patterns of the application's figure keys:
// Patterns when given, else the one the worked-count template gives.
func (c Cache) KeyPatterns() []string {
	if len(c.Patterns) > 0 {
		return c.Patterns
	}
	if _, glob := c.WorkedKeyMatcher(); glob != "" {
		return []string{glob}
	}
	return nil
}

// globEscape escapes the glob characters Redis knows except the
// placeholders' braces.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseDate reads YYYY-MM-DD as time.Parse(time.DateOnly) does, a few
// times faster: a full audit reads two dates of each of a million keys.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false // 2025-02-30 and the like
	}
	return t, true
}
