// Package broker is countlab's embedded Kafka broker: a kfake cluster
// (github.com/twmb/franz-go/pkg/kfake, a real Kafka-protocol broker with
// transactions, consumer groups and on-disk persistence) listening on
// loopback addresses, with countlab's topics created.
//
// Durability: with DataDir, kfake writes each produced batch to its segment
// file with a write system call before it answers the produce request, and
// appends each group offset commit and each transaction state change to its
// logs the same way. Acknowledged data is therefore in the kernel's page
// cache when the client sees the acknowledgement, and survives a kill -9 of
// the process. SyncWrites adds an fsync per batch so it also survives a
// machine crash.
//
// kfake alone does not recover everything a kill -9 leaves behind, so New
// repairs a data dir that was not closed cleanly before kfake loads it (see
// recover.go): it rebuilds the idempotent producers' sequence state from
// the log (kfake saves it only on a clean Close, so a producer retrying
// across the crash could write a batch twice), writes the missing marker of
// a transaction open at the crash (kfake aborts it in memory only, which
// hides the producer's next committed transaction from read_committed
// consumers) and fences that producer's epoch, and cuts a batch whose index
// entry the crash prevented (never acknowledged).
//
// Known limit: a crash between kfake writing a transaction's markers and
// applying its offsets (TxnOffsetCommit) loses those offsets, as kfake keeps
// them in memory until then; the transaction's consumer re-reads from its
// previous offsets.
package broker

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/countlab/countlab/engine/kafka"
)

// Broker is a running embedded broker: one kfake cluster with one broker
// per listen address.
type Broker struct {
	cfg   cfg
	c     *kfake.Cluster
	addrs []string
	log   *errCounter
	// unlock releases the data dir lock; nil without a data dir.
	unlock func()
	// stopWatch ends the retention watcher (retention.go); watched is
	// closed when it has.
	stopWatch func()
	watched   chan struct{}

	closeOnce sync.Once
}

// New starts the brokers, reloads the data dir if there is one, and creates
// the topics that do not exist yet.
func New(opts ...Opt) (*Broker, error) {
	cfg := defaultCfg()
	for _, o := range opts {
		o.apply(&cfg)
	}
	las, err := cfg.validate()
	if err != nil {
		return nil, err
	}

	var unlock func()
	if cfg.dataDir != "" {
		if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: data dir: %w", err)
		}
		if unlock, err = lockDataDir(cfg.dataDir); err != nil {
			return nil, err
		}
		if err := prepareDataDir(cfg.dataDir, cfg.logger); err != nil {
			unlock()
			return nil, err
		}
	}

	errs := new(errCounter)
	ports := make([]int, len(las))
	for i, la := range las {
		ports[i] = la.port
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(len(las)),
		kfake.Ports(ports...),
		kfake.ListenFn(listenFn(las)),
		kfake.WithLogger(slogLogger{cfg.logger, errs}),
		kfake.DefaultNumPartitions(int(cfg.partitions)),
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	if m := cfg.sasl.SASLMechanism; m != "" {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser(m, cfg.sasl.SASLUser, cfg.sasl.SASLPassword))
	}
	kopts = append(kopts, cfg.cleanerOpts()...) // retention.go
	kopts = append(kopts, cfg.kfakeOpts...)

	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	b := &Broker{cfg: cfg, c: c, addrs: c.ListenAddrs(), log: errs, unlock: unlock}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.ensureTopics(ctx); err != nil {
		b.Close()
		return nil, err
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	b.stopWatch = stopWatch
	b.watched = make(chan struct{})
	go func() { defer close(b.watched); b.watchTopics(wctx) }()
	cfg.logger.Info("broker started", "addrs", b.addrs, "data_dir", cfg.dataDir,
		"sync_writes", cfg.syncWrites, "partitions", cfg.partitions, "sasl", cfg.sasl.SASLMechanism, "sasl_user", cfg.sasl.SASLUser)
	return b, nil
}

func (b *Broker) ensureTopics(ctx context.Context) error {
	cl, err := b.Conn().NewClient()
	if err != nil {
		return fmt.Errorf("broker: admin client: %w", err)
	}
	defer cl.Close()
	if b.cfg.sasl.SASLMechanism != "" {
		if err := advertiseHandshakeV0(ctx, b.c, cl); err != nil { // saslcompat.go
			return err
		}
	}
	if err := kafka.EnsureTopicsRetained(ctx, cl, b.cfg.topics, b.cfg.partitions, -1, b.cfg.retention); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// listenFn binds the i-th broker kfake starts to the i-th Listen host
// (kfake itself always asks for 127.0.0.1). Brokers added later through
// the fault API (Cluster().AddNode) stay on 127.0.0.1.
func listenFn(las []listenAddr) func(network, address string) (net.Listener, error) {
	var n atomic.Int64
	return func(network, address string) (net.Listener, error) {
		i := int(n.Add(1) - 1)
		if i < len(las) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			address = net.JoinHostPort(las[i].host, port)
		}
		ln, err := net.Listen(network, address)
		if err != nil && i < len(las) {
			return nil, fmt.Errorf("broker: listen on %s: %w", net.JoinHostPort(las[i].host, strconv.Itoa(las[i].port)), err)
		}
		return ln, err
	}
}

// Addrs are the brokers' host:port addresses, in Listen order.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Conn is how a client reaches the broker: its Addrs, and the SASL login
// when SASL is on.
func (b *Broker) Conn() kafka.Conn {
	c := b.cfg.sasl
	c.Brokers = b.Addrs()
	return c
}

// Topics are the topics the broker created.
func (b *Broker) Topics() kafka.Topics { return b.cfg.topics }

// Cluster is the kfake cluster, for its fault-injection API (Fault,
// Control, MoveTopicPartition, AddNode, RemoveNode, ...).
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the brokers; with a data dir it first writes the rest of the
// state (snapshots, sequence state, group sessions) and syncs the files.
// It is safe to call more than once.
func (b *Broker) Close() {
	b.closeOnce.Do(func() {
		if b.stopWatch != nil {
			b.stopWatch()
			<-b.watched
		}
		before := b.log.n.Load()
		b.c.Close()
		if b.cfg.dataDir != "" {
			// kfake reports a failed final save only in its log; then
			// the next New repairs the dir as after a crash.
			if b.log.n.Load() != before {
				b.cfg.logger.Warn("broker: errors while saving the data dir; it will be recovered as after a crash")
			} else if err := markClean(b.cfg.dataDir); err != nil {
				b.cfg.logger.Warn("broker: mark data dir clean", "err", err)
			}
			b.unlock()
		}
		b.cfg.logger.Info("broker closed", "addrs", b.addrs)
	})
}
