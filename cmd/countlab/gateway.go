package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/enrich"
	"github.com/countlab/countlab/engine/gateway"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// hotKeyFlag collects repeated --hot-key K=N flags.
type hotKeyFlag map[string]int

func (h hotKeyFlag) String() string { return strings.Join(h.pairs(), ",") }

// pairs are the flags' values, KEY=N, in key order.
func (h hotKeyFlag) pairs() []string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		parts = append(parts, k+"="+strconv.Itoa(h[k]))
	}
	return parts
}

func (h hotKeyFlag) Set(s string) error {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 {
		return fmt.Errorf("want KEY=N, got %q", s)
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 1 {
		return fmt.Errorf("want KEY=N with N >= 1, got %q", s)
	}
	h[s[:i]] = n
	return nil
}

func cmdGateway(ctx context.Context, args []string) error {
	fs := newFlagSet("gateway")
	var kf kafkaFlags
	kf.register(fs)
	var (
		listen      = fs.String("listen", "127.0.0.1:8080", "HTTP listen address")
		prefix      = fs.String("topic-prefix", "", "prefix of every topic name")
		partitions  = fs.Int("partitions", 0, "create missing topics with this many partitions (0: do not create)")
		replication = fs.Int("replication", -1, "replication factor of created topics (-1: broker default)")
		maxBody     = fs.Int64("max-body-bytes", gateway.DefaultMaxBodyBytes, "largest request body accepted (413 above)")
		maxBatch    = fs.Int("max-batch", gateway.DefaultMaxBatch, "most events per request (400 above)")
		maxInFlight = fs.Int("max-in-flight", gateway.DefaultMaxInFlight, "most events in flight to Kafka over all requests (429 above); >= --max-batch")
		timeout     = fs.Duration("produce-timeout", gateway.DefaultProduceTimeout, "wait for Kafka's acknowledgement before answering 503")
		bodyTimeout = fs.Duration("body-read-timeout", gateway.DefaultBodyReadTimeout, "longest a request body may take to arrive (408 after: a slow client cannot hold a request open)")
		hot         = hotKeyFlag{}
	)
	fs.Var(hot, "hot-key", "split a hot counted key over N partitions, KEY=N (repeatable)")
	var insecure bool
	registerInsecureNoToken(fs, &insecure)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	conn, err := kf.connect(ctx) // kafkaconnect.go: a refused login is exit 2
	if err != nil {
		return err
	}
	token, err := tokenFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	if err := stack.CheckExposure("--listen", *listen, token, insecure); err != nil { // safety.go
		return err
	}
	if *replication < -1 || *replication > 32767 {
		return usagef("--replication must be -1 or 1..32767, got %d", *replication)
	}
	topics := kafka.DefaultTopics(*prefix)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	gw, err := gateway.New(
		gateway.Kafka(conn),
		gateway.Topics(topics),
		gateway.Token(token),
		gateway.MaxBodyBytes(*maxBody),
		gateway.MaxBatch(*maxBatch),
		gateway.MaxInFlight(*maxInFlight),
		gateway.ProduceTimeout(*timeout),
		gateway.BodyReadTimeout(*bodyTimeout),
		gateway.HotKeys(hot),
		gateway.MetadataTopic(*prefix+enrich.DefaultTopic),
		gateway.Logger(log),
	)
	if err != nil {
		return usageError{Err: err}
	}
	defer gw.Close()

	if *partitions > 0 {
		if err := createTopics(ctx, conn, topics, int32(*partitions), int16(*replication)); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return usagef("--listen: %v", err)
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Printf("countlab gateway: listening on http://%s (POST /v1/events, GET /healthz, GET /metrics; kafka %s, topic %s; auth %v)\n",
		ln.Addr(), conn, topics.Events, token != "")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("gateway: shutting down: draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), *timeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("gateway: shutdown", "err", err)
	}
	if err := gw.Close(); err != nil {
		return fmt.Errorf("flushing the producer: %w", err)
	}
	log.Info("gateway: stopped")
	return nil
}

// createTopics creates countlab's missing topics.
func createTopics(ctx context.Context, conn kafka.Conn, topics kafka.Topics, partitions int32, replication int16) error {
	cl, err := conn.NewClient()
	if err != nil {
		return usageError{Err: err}
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, cl, topics, partitions, replication); err != nil {
		return err
	}
	prefix := strings.TrimSuffix(topics.Events, "events") // the metadata topics (enrich.go)
	return enrich.EnsureTopics(ctx, cl, prefix+enrich.DefaultTopic, prefix+enrich.DefaultTotalsTopic, partitions, partitions)
}
