package serve

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	charmlog "charm.land/log/v2"
)

// RouteWishLog sends what wish's middlewares log to l, so the server has
// one log in one format. Wish logs through charm log's package-level
// default logger, which this replaces: call it once, from main.
//
// A program killed because its connection closed is how a session ends
// when the client goes away; wish reports it as an application error, and
// it is logged at debug level instead, so an ERROR in the log always
// means something broke.
func RouteWishLog(l *slog.Logger) {
	charmlog.SetDefault(charmlog.NewWithOptions(wishLog{l}, charmlog.Options{Formatter: charmlog.JSONFormatter, Level: charmlog.DebugLevel}))
}

// wishLog re-logs charm log's JSON lines through slog.
type wishLog struct{ l *slog.Logger }

func (w wishLog) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(p, &rec); err != nil {
		w.l.Warn("wish", "line", strings.TrimSpace(string(p)))
		return len(p), nil
	}
	msg, _ := rec["msg"].(string)
	level, _ := rec["level"].(string)
	delete(rec, "msg")
	delete(rec, "level")
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, rec[k])
	}
	lvl := slog.LevelInfo
	switch level {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error", "fatal":
		lvl = slog.LevelError
	}
	if e, _ := rec["error"].(string); strings.Contains(e, tea.ErrProgramKilled.Error()) && strings.Contains(e, context.Canceled.Error()) &&
		!strings.Contains(e, tea.ErrProgramPanic.Error()) {
		lvl = slog.LevelDebug
	}
	w.l.Log(context.Background(), lvl, "wish: "+msg, args...)
	return len(p), nil
}
