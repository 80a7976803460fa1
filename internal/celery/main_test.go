package celery

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"steady/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// newRedis returns a client of a fresh private Redis (database 0).
func newRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	url := sandboxtest.Redis(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c, url
}
