// Package celery speaks Celery's task protocol 2 over the Redis broker, as
// kombu's Redis transport and Celery's Redis result backend lay it out: it
// enqueues tasks that a real Celery 5 worker accepts, follows their results,
// inspects queues, and runs a small Celery-compatible consumer for steady's
// sandbox, where no Python is installed.
//
// The layout in Redis (broker db):
//
//	<queue>                    list; producers LPUSH JSON envelopes, workers BRPOP
//	<queue>\x06\x16<priority>  the same for priorities 3, 6 and 9
//	_kombu.binding.<queue>     set; routing, declared by the worker
//	unacked, unacked_index     hash and zset of messages a worker holds
//	celery-task-meta-<id>      the result (result backend db), TTL one day
//
// A message missing a field the worker reads kills the whole worker process
// ("Unrecoverable error"). Without a delivery_tag the message is lost with
// the worker; with one (say, a body of two elements instead of three) kombu
// restores it to the queue, so every restarted worker dies on it again.
// Messages are therefore built only by [NewMessage], which the tests prove
// byte for byte against Celery's own and run on the real worker; [Enqueue]
// re-checks with [Validate] at run time, and [Consume] applies the same rules
// to what it reads.
package celery
