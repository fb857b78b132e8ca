package main

// The flags and environment variables several commands share: the Kafka
// connection, the InfluxDB server, --windows, --log-level, the bearer token
// and the --metrics-listen endpoint. Secrets come from the environment,
// never from flags.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/engine/influx"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/harness/stack"
)

// kafkaFlags are the Kafka connection flags and environment variables,
// defined once in engine/kafka (kafka.Flags: --brokers, --sasl-*, --tls*,
// COUNTLAB_KAFKA_PASSWORD[_FILE]).
type kafkaFlags struct{ kafka.Flags }

// register adds the flags to fs. A command where --brokers is optional
// changes its help text with fs.Lookup("brokers").Usage.
func (f *kafkaFlags) register(fs *flag.FlagSet) { f.Register(fs) }

// conn is the connection the flags and the environment describe; every
// error (no --brokers, a bad combination, an unreadable file) is a usage
// error naming the flag.
func (f *kafkaFlags) conn() (kafka.Conn, error) {
	c, err := f.Conn()
	if err != nil {
		return kafka.Conn{}, usagef("%v", err)
	}
	return c, nil
}

// influxFlags name an InfluxDB server and how to log in, defined once in
// engine/influx (influx.Flags: --influx-url, --influx-org,
// --influx-bucket, --influx-user, --influx-*-file,
// COUNTLAB_INFLUX_TOKEN[_FILE], COUNTLAB_INFLUX_PASSWORD[_FILE]).
type influxFlags struct{ influx.Flags }

// register adds the flags to fs. A command where --influx-url is optional
// changes its help text with fs.Lookup("influx-url").Usage.
func (f *influxFlags) register(fs *flag.FlagSet) { f.Register(fs) }

// config is the server the flags and the environment describe; every
// error is a usage error.
func (f *influxFlags) config() (influx.Config, error) {
	if !f.URLGiven() {
		return influx.Config{}, usagef("--influx-url is required: give the InfluxDB URL, e.g. --influx-url http://127.0.0.1:8086 (countlab up prints its managed influxd's; --influx-listen fixes its port)")
	}
	c, err := f.Config()
	if err != nil {
		return influx.Config{}, usagef("%v", err)
	}
	return c, nil
}

// listSep separates the items of a list flag: commas and/or spaces.
func listSep(r rune) bool { return r == ',' || r == ' ' }

// parseWindows parses the window sizes of the flag --name: durations,
// comma- or space-separated, each a whole number of seconds (at least 1s).
// An empty list is a usage error.
func parseWindows(name, s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, w := range strings.FieldsFunc(s, listSep) {
		d, err := time.ParseDuration(w)
		if err != nil || d < time.Second || d%time.Second != 0 {
			return nil, usagef("--%s: %q is not a whole number of seconds like 10s, 1m, 1h", name, w)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, usagef("--%s: give at least one window size, e.g. 1m", name)
	}
	return out, nil
}

// parseLogLevel parses a --log-level value: debug, info, warn or error.
func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usagef("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger is a text logger on w at the --log-level value level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	l, err := parseLogLevel(level)
	if err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// tokenFromEnv reads the bearer token of the gateway and the query service
// from COUNTLAB_TOKEN, or from the file COUNTLAB_TOKEN_FILE names ("" when
// neither is set).
func tokenFromEnv() (string, error) {
	if t := os.Getenv("COUNTLAB_TOKEN"); t != "" {
		return t, nil
	}
	if f := os.Getenv("COUNTLAB_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("COUNTLAB_TOKEN_FILE: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// serveMetrics serves g's metrics on http://ADDR/metrics, where ADDR is
// the address returned (addr may have port 0), until stop is called. A
// listen error is a usage error naming --metrics-listen.
func serveMetrics(addr string, g prometheus.Gatherer, log *slog.Logger) (_ string, stop func(), _ error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, usagef("--metrics-listen: %v", err)
	}
	srv := &http.Server{Handler: stack.MetricsHandler(g), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
