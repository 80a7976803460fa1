package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisOptions tunes StartRedis. The zero value is ready to use.
type RedisOptions struct {
	// Password, if set, is required from clients (requirepass).
	Password string
	// MaxMemory caps the dataset, in redis.conf syntax ("64mb"); empty
	// means no limit.
	MaxMemory string
	// Binary is the redis-server to run; empty means the one on PATH.
	Binary string
	// Keep leaves the temp dir in place after Stop for a post-mortem; the
	// server process is stopped regardless.
	Keep bool
	// Log receives one-line progress messages; nil discards them.
	Log io.Writer
	// StartTimeout bounds startup if ctx has no earlier deadline; zero
	// means one minute.
	StartTimeout time.Duration
}

// Redis is a private redis-server on 127.0.0.1 with persistence off.
type Redis struct {
	node     *redisNode
	keep     bool
	progress io.Writer
	reaper   *reaper

	stopOnce sync.Once
	stopErr  error
}

// StartRedis starts a redis-server in a fresh temp dir and returns once it
// answers PING. The server keeps running after ctx ends; call Stop.
func StartRedis(ctx context.Context, opts RedisOptions) (_ *Redis, err error) {
	bin, err := findRedis(opts.Binary)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(opts.StartTimeout, time.Minute))
	defer cancel()
	started := time.Now()

	dir, err := os.MkdirTemp("", redisDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("start redis: create temp dir: %w; check TMPDIR (%s)", err, os.TempDir())
	}
	r := &Redis{
		node:     &redisNode{dir: dir, password: opts.Password, maxMemory: opts.MaxMemory},
		keep:     opts.Keep,
		progress: progressWriter(opts.Log),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.Stop())
		}
	}()
	if r.reaper, err = startReaper("TERM", opts.Keep, dir); err != nil {
		return nil, err
	}
	if err := r.node.start(ctx, bin, r.progress); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.progress, "sandbox: redis: ready on %s in %v (dir %s, pid %d)\n",
		r.Addr(), time.Since(started).Round(time.Millisecond), dir, r.node.srv.pid())
	return r, nil
}

// URL returns the URL of database db, with the password if one is set.
func (r *Redis) URL(db int) string {
	u := url.URL{Scheme: "redis", Host: r.Addr(), Path: "/" + strconv.Itoa(db)}
	if r.node.password != "" {
		u.User = url.UserPassword("", r.node.password)
	}
	return u.String()
}

// Addr returns host:port.
func (r *Redis) Addr() string { return r.node.addr() }

// Port returns the TCP port on 127.0.0.1.
func (r *Redis) Port() int { return r.node.port }

// Password returns the password clients must send, or "".
func (r *Redis) Password() string { return r.node.password }

// Dir returns the server's temp dir (config and log).
func (r *Redis) Dir() string { return r.node.dir }

// PID returns the server's process id; after Stop it names a process that
// no longer exists.
func (r *Redis) PID() int { return r.node.pid() }

// LogTail returns the last n lines of the server log; it keeps working
// after Stop removed the dir.
func (r *Redis) LogTail(n int) string { return r.node.log.tail(n) }

// Stop shuts the server down (SIGTERM, then SIGKILL), removes the dir
// unless Keep was set, and dismisses the reaper. It is idempotent.
func (r *Redis) Stop() error {
	r.stopOnce.Do(func() {
		errs := []error{r.node.stop(r.progress), sweep(r.node.dir)}
		if !r.keep {
			errs = append(errs, removeDir(r.node.dir))
		}
		errs = append(errs, r.reaper.dismiss())
		if r.stopErr = errors.Join(errs...); r.stopErr != nil {
			r.stopErr = fmt.Errorf("stop redis in %s: %w", r.node.dir, r.stopErr)
		} else if r.keep {
			fmt.Fprintf(r.progress, "sandbox: redis: stopped, kept %s\n", r.node.dir)
		}
	})
	return r.stopErr
}

// redisNode is one redis-server process. A plain Redis has one; a cluster
// has one per master, each in its own subdir with its own nodes.conf.
type redisNode struct {
	dir       string
	password  string
	maxMemory string
	cluster   bool
	port      int
	busPort   int // cluster bus, cluster mode only
	log       *logFile
	srv       *server
}

func (n *redisNode) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

func (n *redisNode) pid() int {
	if n.srv == nil {
		return 0
	}
	return n.srv.pid()
}

// client opens a minimal go-redis client: RESP2 and no handshake extras,
// so it works against any Redis 6+ without noise in our logs.
func (n *redisNode) client() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                     n.addr(),
		Password:                 n.password,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		DialTimeout:              time.Second,
		ReadTimeout:              2 * time.Second,
		WriteTimeout:             2 * time.Second,
		MaxRetries:               -1,
		PoolSize:                 1,
	})
}

func (n *redisNode) writeConf() (string, error) {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	b.WriteString("# steady sandbox: a throwaway server, nothing is persisted.\n")
	line("bind", "127.0.0.1")
	line("dir", redisQuote(n.dir))
	line("logfile", `""`) // stdout, which is our log file
	line("daemonize", "no")
	// Keeps the dir on the command line after redis rewrites its process
	// title, so the reaper and Leftovers can recognise the process.
	line("proc-title-template", redisQuote("{title} {listen-addr} {server-mode} {config-file}"))
	if n.password != "" {
		line("requirepass", redisQuote(n.password))
	}
	if n.maxMemory != "" {
		line("maxmemory", redisQuote(n.maxMemory))
	}
	if n.cluster {
		line("cluster-enabled", "yes")
		line("cluster-config-file", "nodes.conf")
		// Generous: a node stalled this long is marked failed, and with no
		// replicas that fails the cluster; parallel -race runs can stall.
		line("cluster-node-timeout", "5000")
		// Nodes learn their own address from peers otherwise, and until
		// then report an empty one in CLUSTER SLOTS.
		line("cluster-announce-ip", "127.0.0.1")
	}
	conf := filepath.Join(n.dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", conf, err)
	}
	return conf, nil
}

// start launches the node, retrying on a fresh port when another process
// grabbed the one we picked.
func (n *redisNode) start(ctx context.Context, bin string, progress io.Writer) error {
	n.log = &logFile{path: filepath.Join(n.dir, "redis.log")}
	conf, err := n.writeConf()
	if err != nil {
		return fmt.Errorf("start redis in %s: %w", n.dir, err)
	}
	for attempt := 1; ; attempt++ {
		retry, err := n.startOnce(ctx, bin, conf)
		if err == nil {
			return nil
		}
		if !retry || attempt == 5 {
			return err
		}
		fmt.Fprintf(progress, "sandbox: redis: port %d was taken meanwhile, retrying\n", n.port)
	}
}

func (n *redisNode) startOnce(ctx context.Context, bin, conf string) (retry bool, err error) {
	if n.port, err = pickPort(); err != nil {
		return false, fmt.Errorf("start redis in %s: %w", n.dir, err)
	}
	args := []string{conf, "--port", strconv.Itoa(n.port), "--save", "", "--appendonly", "no"}
	if n.cluster {
		if n.busPort, err = pickPort(); err != nil {
			return false, fmt.Errorf("start redis in %s: %w", n.dir, err)
		}
		args = append(args, "--cluster-port", strconv.Itoa(n.busPort))
	}
	out, off, err := n.log.open()
	if err != nil {
		return false, fmt.Errorf("start redis in %s: open log: %w", n.dir, err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = n.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = out, out
	srv, err := startServer(cmd)
	if err != nil {
		return false, fmt.Errorf("start redis in %s: %w", n.dir, err)
	}
	n.srv = srv

	probeCtx, cancel := srv.untilExit(ctx)
	defer cancel()
	var lastErr error
	for {
		if lastErr = n.ping(probeCtx); lastErr == nil {
			return false, nil
		}
		select {
		case <-srv.done:
			log := n.log.since(off)
			n.srv = nil
			return addrInUse(log), fmt.Errorf("start redis in %s: server exited during startup (%v); log:\n%s", n.dir, srv.err, indent(lastLines([]byte(log), 20)))
		case <-ctx.Done():
			return false, fmt.Errorf("start redis in %s: no PONG on %s: %w (last attempt: %v); log:\n%s",
				n.dir, n.addr(), context.Cause(ctx), lastErr, indent(n.log.tail(20)))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ping speaks just enough RESP to AUTH and PING. go-redis is not used for
// polling a server that is still starting: it logs every refused dial and
// keeps redialling in the background.
func (n *redisNode) ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", n.addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var req strings.Builder
	cmds := [][]string{{"PING"}}
	if n.password != "" {
		cmds = append([][]string{{"AUTH", n.password}}, cmds...)
	}
	for _, args := range cmds {
		fmt.Fprintf(&req, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return err
	}
	rd := bufio.NewReader(conn)
	for _, args := range cmds {
		line, err := rd.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if line = strings.TrimRight(line, "\r\n"); strings.HasPrefix(line, "-") {
			return fmt.Errorf("%s: %s", args[0], line[1:])
		}
	}
	return nil
}

// stop ends the process. The owner sweeps its top-level temp dir
// afterwards: a cluster node's own subdir name is not unique.
func (n *redisNode) stop(progress io.Writer) error {
	var err error
	if n.srv != nil {
		// Without save points SIGTERM exits at once, writing nothing.
		err = n.srv.stop([]stopStep{{syscall.SIGTERM, 10 * time.Second}}, progress, "redis-server")
	}
	if n.log != nil {
		n.log.save()
	}
	return err
}

// RedisCluster is a private Redis Cluster of master nodes on 127.0.0.1,
// all slots assigned, no replicas.
type RedisCluster struct {
	dir    string
	nodes  []*redisNode
	reaper *reaper

	stopOnce sync.Once
	stopErr  error
}

// clusterSlots is the fixed number of hash slots in a Redis Cluster.
const clusterSlots = 16384

// StartRedisCluster starts masters cluster-enabled redis-servers in one temp
// dir, splits the hash slots evenly between them, joins them, and returns
// once every node reports cluster_state:ok. Call Stop.
func StartRedisCluster(ctx context.Context, masters int) (_ *RedisCluster, err error) {
	if masters < 1 || masters > clusterSlots {
		return nil, fmt.Errorf("start redis cluster: %d masters requested; need 1..%d (3 is the usual minimum for a real cluster)", masters, clusterSlots)
	}
	bin, err := findRedis("")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", redisDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("start redis cluster: create temp dir: %w; check TMPDIR (%s)", err, os.TempDir())
	}
	c := &RedisCluster{dir: dir}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.reaper, err = startReaper("TERM", false, dir); err != nil {
		return nil, err
	}
	for i := range masters {
		n := &redisNode{dir: filepath.Join(dir, fmt.Sprintf("node%d", i+1)), cluster: true}
		if err := os.Mkdir(n.dir, 0o700); err != nil {
			return nil, fmt.Errorf("start redis cluster in %s: %w", dir, err)
		}
		c.nodes = append(c.nodes, n)
		if err := n.start(ctx, bin, io.Discard); err != nil {
			return nil, fmt.Errorf("start redis cluster node %d: %w", i+1, err)
		}
	}
	if err := c.form(ctx); err != nil {
		return nil, fmt.Errorf("start redis cluster in %s: %w", dir, err)
	}
	return c, nil
}

// form does what `redis-cli --cluster create` does for masters only. It
// takes about two seconds however fast the machine: a master reports
// cluster_state:ok no sooner than 2s after it started (Redis's
// CLUSTER_WRITABLE_DELAY).
func (c *RedisCluster) form(ctx context.Context) error {
	clients := make([]*redis.Client, len(c.nodes))
	for i, n := range c.nodes {
		clients[i] = n.client()
		defer clients[i].Close()
	}
	for i, cl := range clients {
		lo := i * clusterSlots / len(clients)
		hi := (i+1)*clusterSlots/len(clients) - 1
		// Distinct epochs up front, or the masters start out in an epoch
		// collision that takes extra gossip rounds to resolve.
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("node %s: CLUSTER SET-CONFIG-EPOCH: %w", c.nodes[i].addr(), err)
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("node %s: CLUSTER ADDSLOTSRANGE %d %d: %w (needs Redis 7+)", c.nodes[i].addr(), lo, hi, err)
		}
	}
	for _, n := range c.nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.port, n.busPort).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", n.addr(), err)
		}
	}
	want := []string{
		"cluster_state:ok",
		"cluster_slots_assigned:" + strconv.Itoa(clusterSlots),
		"cluster_known_nodes:" + strconv.Itoa(len(c.nodes)),
	}
	for {
		var notReady string
		for i, cl := range clients {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				notReady = fmt.Sprintf("node %s: CLUSTER INFO: %v", c.nodes[i].addr(), err)
				break
			}
			for _, w := range want {
				if !strings.Contains(info, w+"\r\n") {
					notReady = fmt.Sprintf("node %s lacks %q", c.nodes[i].addr(), w)
					break
				}
			}
			if notReady != "" {
				break
			}
		}
		if notReady == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w; last check: %s", context.Cause(ctx), notReady)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addrs returns host:port of every node.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr()
	}
	return out
}

// URL returns the cluster in the form redis.ParseClusterURL accepts:
// redis://FIRST?addr=SECOND&addr=THIRD...
func (c *RedisCluster) URL() string {
	addrs := c.Addrs()
	if len(addrs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("redis://" + addrs[0])
	for i, a := range addrs[1:] {
		if i == 0 {
			b.WriteString("?addr=" + a)
		} else {
			b.WriteString("&addr=" + a)
		}
	}
	return b.String()
}

// Dir returns the temp dir holding one subdir per node.
func (c *RedisCluster) Dir() string { return c.dir }

// Stop shuts every node down, removes the dir and dismisses the reaper. It
// is idempotent.
func (c *RedisCluster) Stop() error {
	c.stopOnce.Do(func() {
		errs := make([]error, len(c.nodes))
		var wg sync.WaitGroup
		for i, n := range c.nodes {
			wg.Go(func() { errs[i] = n.stop(io.Discard) })
		}
		wg.Wait()
		errs = append(errs, sweep(c.dir), removeDir(c.dir), c.reaper.dismiss())
		if c.stopErr = errors.Join(errs...); c.stopErr != nil {
			c.stopErr = fmt.Errorf("stop redis cluster in %s: %w", c.dir, c.stopErr)
		}
	})
	return c.stopErr
}

func findRedis(bin string) (string, error) {
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v; install the Debian package redis-server (apt-get install redis-server) or set RedisOptions.Binary", ErrNotInstalled, bin, err)
	}
	return path, nil
}

// redisQuote quotes a redis.conf value the way its parser (sdssplitargs)
// reads double-quoted strings.
func redisQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
