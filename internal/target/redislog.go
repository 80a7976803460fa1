package target

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// go-redis logs pool failures ("failed to dial …") to stderr, which would
// draw over the terminal UI; every failure already reaches the caller as
// an error, so the library's own log is silenced.
func init() { redis.SetLogger(silentLogger{}) }

type silentLogger struct{}

func (silentLogger) Printf(context.Context, string, ...any) {}
