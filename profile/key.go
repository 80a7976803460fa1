package profile

import (
	"fmt"
	"regexp"
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
	re := regexp.QuoteMeta(tpl)
	re = strings.Replace(re, `\{clinician\}`, `(?P<clinician>\d+)`, 1)
	re = strings.Replace(re, `\{from\}`, `(?P<from>\d{4}-\d{2}-\d{2})`, 1)
	re = strings.Replace(re, `\{to\}`, `(?P<to>\d{4}-\d{2}-\d{2})`, 1)
	rx, err := regexp.Compile("^" + re + "$")
	if err != nil || rx.SubexpIndex("clinician") < 0 || rx.SubexpIndex("from") < 0 || rx.SubexpIndex("to") < 0 {
		return nil, ""
	}
	glob := globEscape(tpl)
	for _, ph := range []string{"{clinician}", "{from}", "{to}"} {
		glob = strings.ReplaceAll(glob, ph, "*")
	}
	parse := func(key string) (KeyParts, bool) {
		m := rx.FindStringSubmatch(key)
		if m == nil {
			return KeyParts{}, false
		}
		id, errC := strconv.ParseInt(m[rx.SubexpIndex("clinician")], 10, 64)
		from, errF := time.Parse(time.DateOnly, m[rx.SubexpIndex("from")])
		to, errT := time.Parse(time.DateOnly, m[rx.SubexpIndex("to")])
		if errC != nil || errF != nil || errT != nil {
			return KeyParts{}, false
		}
		return KeyParts{Clinician: id, From: from, To: to}, true
	}
	return parse, glob
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
