package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query"
	"github.com/countlab/countlab/harness/stack"
)

// cmdQueryServer runs the query service: window totals read from the
// aggregates topic (recent windows, in memory) and InfluxDB (older ones),
// served as counts, stats and top-N over HTTP JSON.
//
// Secrets come from the environment, never flags: COUNTLAB_TOKEN[_FILE]
// (bearer token the API requires), COUNTLAB_INFLUX_TOKEN[_FILE],
// COUNTLAB_KAFKA_PASSWORD[_FILE].
func cmdQueryServer(ctx context.Context, args []string) error {
	fs := newFlagSet("query-server")
	var kf kafkaFlags
	var inf influxFlags
	kf.register(fs)
	fs.Lookup("brokers").Usage = "Kafka seed brokers host:port[,...] (the aggregates topic is read from them)"
	inf.register(fs)
	fs.Lookup("influx-url").Usage = "InfluxDB URL for ranges older than --retention (token from COUNTLAB_INFLUX_TOKEN[_FILE])"
	prefix := fs.String("topic-prefix", "", "prefix of countlab's topic names")
	listen := fs.String("listen", "127.0.0.1:8081", "HTTP listen address")
	influxTimeout := fs.Duration("influx-timeout", query.DefaultInfluxTimeout, "timeout of every InfluxDB query")
	retention := fs.Duration("retention", query.DefaultRetention, "how far back windows are kept in memory")
	types := fs.String("types", strings.Join(query.DefaultTypes, ","), "event types queries may name")
	windows := fs.String("windows", "60s", "window sizes queries may name (the first is the default)")
	maxRange := fs.Duration("max-range", query.DefaultMaxRange, "longest range a query may ask for")
	maxTopN := fs.Int("max-top-n", query.DefaultMaxTopN, "largest n of a top query")
	sinkGroup := fs.String("sink-group", query.DefaultSinkGroup, "consumer group of the sink (countlab sink --group): its committed offsets say which totals InfluxDB holds, so which InfluxDB answers may be cached (\"\": none are, for windows the topic has totals for)")
	var insecure bool
	registerInsecureNoToken(fs, &insecure)
	retentionCfg := retentionFlag(fs) // retention.go
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rc, err := retentionCfg()
	if err != nil {
		return err
	}

	log := slog.Default()
	opts := []query.Opt{
		query.Retention(*retention), query.MaxRange(*maxRange), query.MaxTopN(*maxTopN),
		query.Topic(kafka.DefaultTopics(*prefix).Aggregates), query.InfluxTimeout(*influxTimeout), query.Logger(log),
		query.SinkGroup(*sinkGroup),
	}
	if ts := strings.FieldsFunc(*types, listSep); len(ts) > 0 {
		opts = append(opts, query.Types(ts...))
	}
	sizes, err := parseWindows("windows", *windows)
	if err != nil {
		return err
	}
	opts = append(opts, query.Windows(sizes...))
	opts = append(opts, queryRetention(rc)...)
	if !kf.BrokersGiven() && !inf.URLGiven() {
		return usagef("give --brokers (recent windows from Kafka) and/or --influx-url (older windows)")
	}
	if kf.BrokersGiven() {
		conn, err := kf.connect(ctx) // kafkaconnect.go: a refused login is exit 2
		if err != nil {
			return err
		}
		opts = append(opts, query.Kafka(conn))
	}
	if inf.URLGiven() {
		ic, err := inf.connect(ctx) // kafkaconnect.go: refused credentials are exit 2
		if err != nil {
			return err
		}
		opts = append(opts, query.Influx(ic))
	}
	tok, err := tokenFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	if err := stack.CheckExposure("--listen", *listen, tok, insecure); err != nil { // safety.go
		return err
	}
	if tok != "" {
		opts = append(opts, query.Token(tok))
	}

	srv, err := query.New(opts...)
	if err != nil {
		return usageError{Err: err}
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      *influxTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Info("query-server: listening", "addr", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
