package target

import "strings"

// MatchGlob reports whether s matches a Redis glob pattern (*, ?, [...],
// \ escapes), the way SCAN MATCH and KEYS do, so steady can tell which
// keys a pattern covers without asking the server.
func MatchGlob(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if MatchGlob(pattern, s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		case '[':
			end := strings.IndexByte(pattern[1:], ']')
			if end < 0 || s == "" {
				return false
			}
			set, neg := pattern[1:end+1], false
			if strings.HasPrefix(set, "^") {
				set, neg = set[1:], true
			}
			if inSet(set, s[0]) == neg {
				return false
			}
			pattern, s = pattern[end+2:], s[1:]
		case '\\':
			if len(pattern) > 1 {
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
		}
	}
	return s == ""
}

// inSet says whether c is in a glob's character set: single characters
// and ranges such as a-z.
func inSet(set string, c byte) bool {
	hit := false
	for i := 0; i < len(set); i++ {
		if i+2 < len(set) && set[i+1] == '-' {
			if set[i] <= c && c <= set[i+2] {
				hit = true
			}
			i += 2
		} else if set[i] == c {
			hit = true
		}
	}
	return hit
}
