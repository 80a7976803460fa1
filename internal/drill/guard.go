package drill

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/sandbox"
)

// The drill's commands (migrate, test, the worker) write to whatever their
// environment names. A drill's environment can leak: a shell that still
// has DATABASE_URL set, a copied command line. So each of them first asks
// the server where it keeps its data, and refuses anything outside a
// sandbox temp dir: no setting a client controls can fake that answer.

// Environment variables through which a drill hands its sandbox to the
// commands it configures. Never the command line: plans are shown on
// screen and journaled, and the database URL carries a password.
const (
	EnvDatabase = "STEADY_SANDBOX_DATABASE_URL"
	EnvCache    = "STEADY_SANDBOX_CACHE_URL"
	EnvBroker   = "STEADY_SANDBOX_BROKER_URL"
)

// queryRower is what guardPostgres needs of a connection or pool.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// guardPostgres refuses a server whose data directory is not a sandbox's.
func guardPostgres(ctx context.Context, db queryRower) error {
	var dir string
	if err := db.QueryRow(ctx, `SHOW data_directory`).Scan(&dir); err != nil {
		return fmt.Errorf("ask the server for its data directory (to make sure it is a drill sandbox): %w", err)
	}
	if !sandbox.Holds(dir) {
		return fmt.Errorf("refusing: this PostgreSQL keeps its data in %s, which is not a steady sandbox; "+
			"the sandbox commands only ever touch a drill's own servers (is %s left over in your shell?)", dir, EnvDatabase)
	}
	return nil
}

// guardRedis refuses a Redis whose working dir is not a sandbox's.
func guardRedis(ctx context.Context, rdb redis.UniversalClient) error {
	kv, err := rdb.ConfigGet(ctx, "dir").Result()
	if err != nil {
		return fmt.Errorf("ask Redis for its dir (to make sure it is a drill sandbox): %w", err)
	}
	if dir := kv["dir"]; !sandbox.Holds(dir) {
		return fmt.Errorf("refusing: this Redis runs in %s, which is not a steady sandbox; "+
			"the sandbox worker only ever touches a drill's own servers (is %s or %s left over in your shell?)", dir, EnvCache, EnvBroker)
	}
	return nil
}
