package stack

// The one place that builds an engine worker's configuration: the
// aggregate options of an in-process worker and the `countlab engine`
// flags of a worker process come from the same slot ids and settings, so
// they cannot drift.

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/kafka"
)

// workerID is worker slot's transactional and static-membership id: a
// stable id per slot, so that a restart (on the same data dir) fences the
// previous one's open transaction and takes its partitions over at once.
func workerID(slot int) string { return fmt.Sprintf("countlab-up-engine-%d", slot) }

// workerOpts are the aggregate options of in-process worker slot.
func (s *Stack) workerOpts(slot int) []aggregate.Opt {
	c := &s.cfg
	id := workerID(slot)
	opts := []aggregate.Opt{
		aggregate.Conn(s.net.engineConn(s.conn)),
		aggregate.Topics(s.topics),
		aggregate.TopicPrefix(c.topicPrefix),
		aggregate.TransactionalID(id),
		aggregate.InstanceID(id),
		aggregate.Windows(c.windows...),
		aggregate.AllowedLateness(c.lateness),
		aggregate.OutOfOrderness(c.outOfOrder),
		aggregate.CommitInterval(c.commitEvery),
		aggregate.SessionTimeout(c.sessionTimeout),
		aggregate.Logger(s.log.With("part", "engine", "worker", slot)),
	}
	if c.atLeastOnce {
		opts = append(opts, aggregate.AtLeastOnce())
	}
	if len(c.hotKeys) > 0 {
		opts = append(opts, aggregate.HotKeys(c.hotKeys))
	}
	return opts
}

// workerArgs are the `countlab engine` flags of worker process slot: the
// same settings as workerOpts.
func (s *Stack) workerArgs(slot int) []string {
	c := &s.cfg
	id := workerID(slot)
	ws := make([]string, len(c.windows))
	for i, w := range c.windows {
		ws[i] = w.String()
	}
	args := []string{
		"--brokers", strings.Join(s.conn.Brokers, ","),
		"--topic-prefix", c.topicPrefix,
		"--txn-id", id,
		"--instance-id", id,
		"--windows", strings.Join(ws, ","),
		"--lateness", c.lateness.String(),
		"--out-of-orderness", c.outOfOrder.String(),
		"--commit-interval", c.commitEvery.String(),
		"--log-level", strings.ToLower(c.logLevel.String()),
		// Metrics on a free port (the resource sampler reads go_goroutines).
		"--metrics-listen", "127.0.0.1:0",
	}
	// SASL and TLS as the stack connects; the password reaches the child
	// through its environment (childEnv), never its command line.
	args = append(args, s.conn.Args()...)
	if c.atLeastOnce {
		args = append(args, "--at-least-once-UNSAFE")
	}
	if c.sessionTimeout > 0 {
		args = append(args, "--session-timeout", c.sessionTimeout.String())
	}
	for _, k := range slices.Sorted(maps.Keys(c.hotKeys)) {
		args = append(args, "--hot-key", k+"="+strconv.Itoa(c.hotKeys[k]))
	}
	args = append(args, s.enrichArgs(slot)...) // enrich.go
	// A diagnostic: COUNTLAB_ENGINE_PPROF_PORT=P serves worker N's Go
	// profiles on 127.0.0.1:P+N (countlab engine --pprof).
	if p, err := strconv.Atoi(os.Getenv("COUNTLAB_ENGINE_PPROF_PORT")); err == nil && p > 0 {
		args = append(args, "--pprof", "127.0.0.1:"+strconv.Itoa(p+slot))
	}
	// Dial the brokers through the network proxies (netproxy.go).
	return append(args, s.net.engineArgs()...)
}

// gatewayConfig are the gateway options of the capacity settings
// (GatewayCapacity), and its hot keys (HotKeys).
func (c *cfg) gatewayConfig() []gateway.Opt {
	var opts []gateway.Opt
	if len(c.hotKeys) > 0 {
		opts = append(opts, gateway.HotKeys(c.hotKeys))
	}
	if c.gatewayRate > 0 {
		opts = append(opts, gateway.RateLimit(c.gatewayRate, 0))
	}
	if n := c.gatewayMaxInFlight; n > 0 {
		opts = append(opts, gateway.MaxInFlight(n), gateway.MaxBatch(min(n, gateway.DefaultMaxBatch)))
	}
	return opts
}

// addBuggyWorker joins a worker with aggregate.PlantBug to the engine's
// consumer group (PlantBugUNSAFE): it takes over some partitions and
// mis-counts 1 event in N of them. Its readiness is added to ready.
func (s *Stack) addBuggyWorker(ctx context.Context, ready []<-chan struct{}) ([]<-chan struct{}, error) {
	c := &s.cfg
	w, err := aggregate.New(
		aggregate.Conn(s.conn),
		aggregate.Topics(s.topics),
		aggregate.TopicPrefix(c.topicPrefix),
		aggregate.TransactionalID(fmt.Sprintf("countlab-engine-%d-planted-bug", os.Getpid())),
		aggregate.Windows(c.windows...),
		aggregate.AllowedLateness(c.lateness),
		aggregate.OutOfOrderness(c.outOfOrder),
		aggregate.CommitInterval(c.commitEvery),
		aggregate.Logger(s.log.With("part", "engine", "worker", "planted-bug")),
		aggregate.PlantBug(c.plantBug),
		aggregate.HotKeys(c.hotKeys),
	)
	if err != nil {
		return nil, err
	}
	s.goRun("engine", w.Run, ctx)
	return append(ready, w.Ready()), nil
}

// createTopics creates countlab's missing topics on an external cluster
// with topic retention ret (set on existing ones too when it bounds any).
func createTopics(ctx context.Context, conn kafka.Conn, topics kafka.Topics, partitions int32, ret kafka.Retention) error {
	cl, err := conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err = kafka.EnsureTopicsRetained(ctx, cl, topics, partitions, -1, ret); err != nil {
		return fmt.Errorf("create the topics: %w", err)
	}
	return nil
}

// childEnv is the environment of the stack's child processes: this
// process's, with the SASL password of the stack's connection
// (kafka.Conn.ChildEnv).
func (s *Stack) childEnv() []string { return s.conn.ChildEnv(os.Environ()) }
