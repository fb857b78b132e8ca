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
// kfake forgets idempotent producers' sequence state on a crash (it saves
// it only on a clean Close), so a producer that retries across a broker
// crash could write a batch twice. New repairs that before kfake loads a
// data dir that was not closed cleanly: it rebuilds the sequence state from
// the segment files, as Kafka rebuilds its producer state from its log (see
// recover.go).
package broker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/engine/kafka"
)

// Broker is a running embedded broker: one kfake cluster with one broker
// per listen address.
type Broker struct {
	cfg   cfg
	c     *kfake.Cluster
	addrs []string

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

	if cfg.dataDir != "" {
		if err := prepareDataDir(cfg.dataDir, cfg.logger); err != nil {
			return nil, err
		}
	}

	ports := make([]int, len(las))
	for i, la := range las {
		ports[i] = la.port
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(len(las)),
		kfake.Ports(ports...),
		kfake.ListenFn(listenFn(las)),
		kfake.WithLogger(slogLogger{cfg.logger}),
		kfake.DefaultNumPartitions(int(cfg.partitions)),
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	kopts = append(kopts, cfg.kfakeOpts...)

	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	b := &Broker{cfg: cfg, c: c, addrs: c.ListenAddrs()}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.ensureTopics(ctx); err != nil {
		b.Close()
		return nil, err
	}
	cfg.logger.Info("broker started", "addrs", b.addrs, "data_dir", cfg.dataDir,
		"sync_writes", cfg.syncWrites, "partitions", cfg.partitions)
	return b, nil
}

func (b *Broker) ensureTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs...))
	if err != nil {
		return fmt.Errorf("broker: admin client: %w", err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, b.cfg.topics, b.cfg.partitions, -1); err != nil {
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
		b.c.Close()
		if b.cfg.dataDir != "" {
			if err := markClean(b.cfg.dataDir); err != nil {
				b.cfg.logger.Warn("broker: mark data dir clean", "err", err)
			}
		}
		b.cfg.logger.Info("broker closed", "addrs", b.addrs)
	})
}
