package target

import (
	"context"
	"sort"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Masters returns a client per node holding data: the client itself for a
// single Redis, each master of a cluster, in address order so samples and
// evidence come out the same on every run. SCAN and INFO must go to each
// of them, since a cluster client sends them to one node only.
func Masters(ctx context.Context, rdb redis.UniversalClient) ([]redis.UniversalClient, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return []redis.UniversalClient{rdb}, nil
	}
	var mu sync.Mutex
	var out []redis.UniversalClient
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, n)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		return out[i].(*redis.Client).Options().Addr < out[j].(*redis.Client).Options().Addr
	})
	return out, err
}
