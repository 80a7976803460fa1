package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CaptureStatements logs every statement of the sessions that connect to
// database while run runs (ALTER DATABASE … SET log_min_duration_statement
// = 0, so only new sessions log), and returns the SELECT statements they
// executed, in order, with their parameters written in as the literals the
// server logged. It is how the psql side of a comparison runs exactly the
// SQL steady sent, rather than a copy that could drift from the probe.
func CaptureStatements(ctx context.Context, db *pgx.Conn, database, logPath string, run func() error) ([]string, error) {
	st, err := os.Stat(logPath)
	if err != nil {
		return nil, fmt.Errorf("the server log: %w", err)
	}
	offset := st.Size()
	db1 := pgx.Identifier{database}.Sanitize()
	if _, err := db.Exec(ctx, `ALTER DATABASE `+db1+` SET log_min_duration_statement = 0`); err != nil {
		return nil, err
	}
	runErr := run()
	if _, err := db.Exec(ctx, `ALTER DATABASE `+db1+` RESET log_min_duration_statement`); err != nil {
		return nil, err
	}
	if runErr != nil {
		return nil, runErr
	}
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return parseStatements(f)
}

// logEntryRE is the start of an entry under the default log_line_prefix
// ('%m [%p] '): time, pid, level, message. Lines not matching continue the
// entry before (multi-line statements).
var logEntryRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] ([A-Z]+):  (.*)$`)

// executedRE finds the statement in a duration entry: extended protocol
// ("execute <name>: …") or simple ("statement: …").
var executedRE = regexp.MustCompile(`(?s)^duration: [0-9.]+ ms  (?:execute [^:]*|statement): (.*)$`)

// paramRE is one logged parameter: $n = 'literal' (quotes doubled) or NULL.
var paramRE = regexp.MustCompile(`\$(\d+) = ('(?:[^']|'')*'|NULL)`)

// placeholderRE is a parameter placeholder in a statement.
var placeholderRE = regexp.MustCompile(`\$(\d+)\b`)

// parseStatements reads a server log and returns the executed SELECT (and
// WITH) statements with parameters substituted.
func parseStatements(r io.Reader) ([]string, error) {
	type entry struct{ pid, level, msg string }
	var entries []entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := logEntryRE.FindStringSubmatch(line); m != nil {
			entries = append(entries, entry{m[1], m[2], m[3]})
		} else if len(entries) > 0 {
			entries[len(entries)-1].msg += "\n" + line
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []string
	for i, e := range entries {
		if e.level != "LOG" {
			continue
		}
		m := executedRE.FindStringSubmatch(e.msg)
		if m == nil {
			continue
		}
		sql := strings.TrimSpace(m[1])
		head := strings.ToUpper(strings.Fields(sql + " x")[0])
		if head != "SELECT" && head != "WITH" {
			continue
		}
		params := map[int]string{}
		if i+1 < len(entries) && entries[i+1].level == "DETAIL" && entries[i+1].pid == e.pid {
			if d, ok := strings.CutPrefix(entries[i+1].msg, "parameters: "); ok {
				for _, p := range paramRE.FindAllStringSubmatch(d, -1) {
					n, _ := strconv.Atoi(p[1])
					params[n] = p[2]
				}
			}
		}
		var missing error
		sql = placeholderRE.ReplaceAllStringFunc(sql, func(ph string) string {
			n, _ := strconv.Atoi(ph[1:])
			v, ok := params[n]
			if !ok {
				missing = fmt.Errorf("no logged value for %s in %q", ph, firstLineOf(sql))
			}
			return v
		})
		if missing != nil {
			return nil, missing
		}
		out = append(out, sql)
	}
	return out, nil
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
