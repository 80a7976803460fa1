package actions

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// pgxOnly are connection parameters pgx understands and libpq tools
// (pg_dump, pg_restore) reject with "invalid connection option".
var pgxOnly = map[string]bool{
	"statement_cache_capacity":   true,
	"description_cache_capacity": true,
	"default_query_exec_mode":    true,
	"min_read_buffer_size":       true,
}

func isPgxOnly(k string) bool { return pgxOnly[k] || strings.HasPrefix(k, "pool_") }

// libpqConn splits a connection string for a libpq tool into what may be
// shown on its command line (the same URL or keyword/value string without
// the password and without pgx-only parameters) and the environment that
// carries the password (PGPASSWORD), which is never shown.
func libpqConn(dsn string) (shown string, env []string, err error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", nil, fmt.Errorf("the database URL does not parse (%v)", redactErr(err))
		}
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				env = append(env, "PGPASSWORD="+pw)
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		for k := range q {
			switch {
			case k == "password":
				env = append(env, "PGPASSWORD="+q.Get(k))
				q.Del(k)
			case isPgxOnly(k):
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), env, nil
	}
	pairs, err := parseKeywordValue(dsn)
	if err != nil {
		return "", nil, err
	}
	var parts []string
	for _, p := range pairs {
		switch {
		case p[0] == "password":
			env = append(env, "PGPASSWORD="+p[1])
		case isPgxOnly(p[0]):
		default:
			parts = append(parts, p[0]+"="+quoteKeywordValue(p[1]))
		}
	}
	return strings.Join(parts, " "), env, nil
}

// redactErr keeps a URL parse error from quoting the URL (and its
// password) back.
func redactErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "invalid URL"
}

// parseKeywordValue reads libpq's keyword/value form: key=value pairs
// separated by spaces, values optionally single-quoted with backslash
// escapes.
func parseKeywordValue(s string) ([][2]string, error) {
	var out [][2]string
	i := 0
	for {
		for i < len(s) && unicode.IsSpace(rune(s[i])) {
			i++
		}
		if i == len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("the database connection string is neither a postgres:// URL nor key=value pairs (near %q)", strings.Fields(s[i:])[0])
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("the database connection string has an unterminated quote after %s=", key)
			}
		} else {
			for i < len(s) && !unicode.IsSpace(rune(s[i])) {
				val.WriteByte(s[i])
				i++
			}
		}
		out = append(out, [2]string{key, val.String()})
	}
	return out, nil
}

func quoteKeywordValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
