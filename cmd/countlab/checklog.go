package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/engine/query/client"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim/logtruth"
	"github.com/countlab/countlab/sim/oracle"
)

// fromLogFlag selects check's log mode: `countlab check --from-log`.
const fromLogFlag = "from-log"

// wantsFromLog says whether check's args ask for --from-log.
func wantsFromLog(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		n := strings.TrimLeft(a, "-")
		if len(n) < len(a) && (n == fromLogFlag || n == fromLogFlag+"=true") {
			return true
		}
	}
	return false
}

// checkLogFlags are the flags of check --from-log.
type checkLogFlags struct {
	kafka       kafkaFlags
	influx      influxFlags
	topicPrefix string
	from, to    string
	idPrefix    string
	keyPrefix   string
	summaries   listFlag
	queryURL    string
	windows     string
	lateness    time.Duration
	ooo         time.Duration
	hot         hotKeyFlag
	includeLate bool
	wait        time.Duration
	parallel    int
	connect     time.Duration
}

func (f *checkLogFlags) register(fs *flag.FlagSet) {
	fs.Bool(fromLogFlag, true, "derive the truth from the events topic's committed log (for traffic countlab did not generate: k6, kcat, curl, any producer)")
	f.kafka.register(fs)
	f.influx.register(fs)
	fs.Lookup("influx-url").Usage = "also compare every window with what this InfluxDB stores (token from COUNTLAB_INFLUX_TOKEN[_FILE])"
	fs.StringVar(&f.topicPrefix, "topic-prefix", "", "prefix of the topic names (the events topic is PREFIXevents)")
	fs.StringVar(&f.from, "from", "", "read the records with a timestamp at or after this time (RFC 3339 or unix ms; default the log start)")
	fs.StringVar(&f.to, "to", "", "read the records with a timestamp before this time (RFC 3339 or unix ms; default now)")
	fs.StringVar(&f.idPrefix, "id-prefix", "", "only the events whose id starts with this (one run's, e.g. RUN_ID-; default the --summary files' id_prefix)")
	fs.StringVar(&f.keyPrefix, "key-prefix", "", "with --influx-url: look for stored windows the truth lacks only among keys with this prefix (a store shared with other traffic)")
	fs.Var(&f.summaries, "summary", "a k6 shard summary (k6/lib/summary.js) to compare its acknowledged events with the log (repeatable: one per instance)")
	fs.StringVar(&f.queryURL, "query", "http://127.0.0.1:8081", "the query service's base URL (token from COUNTLAB_TOKEN[_FILE]); \"\" with --influx-url: InfluxDB is the whole read side")
	fs.StringVar(&f.windows, "windows", "1m", "the engine's window sizes, comma-separated")
	fs.DurationVar(&f.lateness, "lateness", oracle.DefaultLateness, "the engine's allowed lateness")
	fs.DurationVar(&f.ooo, "out-of-orderness", oracle.DefaultOutOfOrderness, "the engine's bounded out-of-orderness")
	f.hot = hotKeyFlag{}
	fs.Var(f.hot, "hot-key", "a key the gateway splits over N partitions, KEY=N (repeatable; as the gateway's --hot-key)")
	fs.BoolVar(&f.includeLate, "include-late", false, "expect the too-late events too (after a countlab reconcile)")
	fs.DurationVar(&f.wait, "wait", 0, "re-check windows that differ for up to this long (the pipeline is still draining; also re-reads the log while records wait to be moved to their canonical partition)")
	fs.IntVar(&f.parallel, "parallel", 16, "queries in flight")
	fs.DurationVar(&f.connect, "connect-timeout", 10*time.Second, "how long the brokers may take to answer (then exit 2)")
}

// store is the InfluxDB --influx-url names, read with the check's own
// query (nil without the flag).
func (f *checkLogFlags) store() (*reports.InfluxStore, error) {
	if !f.influx.URLGiven() {
		return nil, nil
	}
	ic, err := f.influx.config()
	if err != nil {
		return nil, err
	}
	return reports.NewInfluxStore(ic.URL, ic.Org, ic.Bucket, ic.Credential()), nil
}

// readOpts turns the flags into logtruth options (and the summaries).
func (f *checkLogFlags) readOpts() ([]logtruth.Opt, logtruth.Summaries, error) {
	conn, err := f.kafka.conn()
	if err != nil {
		return nil, nil, err
	}
	kopts, err := conn.Opts()
	if err != nil {
		return nil, nil, usagef("kafka: %v", err)
	}
	sizes, err := parseWindows("windows", f.windows)
	if err != nil {
		return nil, nil, err
	}
	oc := oracle.Config{Windows: sizes, Lateness: f.lateness, OutOfOrderness: f.ooo, HotKeys: f.hot}
	if _, err := oracle.New(oc); err != nil {
		return nil, nil, usagef("--windows/--lateness/--out-of-orderness: %v", err)
	}
	opts := []logtruth.Opt{logtruth.ClientOpts(kopts...), logtruth.Topic(kafka.DefaultTopics(f.topicPrefix).Events),
		logtruth.Oracle(oc), logtruth.ConnectTimeout(f.connect), logtruth.Settle(f.wait)}
	for _, t := range []struct {
		name, v string
		opt     func(time.Time) logtruth.Opt
	}{{"from", f.from, logtruth.From}, {"to", f.to, logtruth.To}} {
		if t.v == "" {
			continue
		}
		tm, err := reconcileTime(t.name, t.v)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, t.opt(tm))
	}
	ss, err := logtruth.LoadSummaries(f.summaries)
	if err != nil {
		return nil, nil, usagef("--summary: %v", err)
	}
	prefix := f.idPrefix
	if prefix == "" {
		prefix = ss.IDPrefix()
	} else if p := ss.IDPrefix(); p != "" && p != prefix {
		return nil, nil, usagef("--id-prefix %q, but the --summary files are of run prefix %q", prefix, p)
	}
	if prefix != "" {
		opts = append(opts, logtruth.IDPrefix(prefix))
	}
	if f.from == "" && f.to == "" && prefix == "" {
		return nil, nil, usagef("say which traffic to check: --from/--to (record timestamps), --id-prefix, or --summary")
	}
	return opts, ss, nil
}

// cmdCheckFromLog is `countlab check --from-log`: the truth from the
// events topic's committed log (sim/logtruth, the oracle's log mode), every
// window compared with the query service (and InfluxDB with
// --influx-url), and the k6 summaries' acknowledged events with the log.
// Exit 0 exact, 1 not (the windows named), 2 configuration (unreachable
// brokers included).
func cmdCheckFromLog(ctx context.Context, args []string) error {
	fs := newFlagSet("check --from-log")
	setUsage(fs, "countlab check --from-log --brokers HOST:PORT (--from T --to T | --id-prefix P | --summary FILE...) [--query URL] [--influx-url URL]")
	var f checkLogFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := f.kafka.connect(ctx); err != nil { // kafkaconnect.go: a refused login is exit 2 naming the flags
		return err
	}
	opts, ss, err := f.readOpts()
	if err != nil {
		return err
	}
	token, err := tokenFromEnv()
	if err != nil {
		return usageError{Err: err}
	}
	cfg := reports.CheckConfig{Parallel: f.parallel, IncludeLate: f.includeLate, Drain: f.wait, KeyPrefix: f.keyPrefix}
	store, err := f.store()
	if err != nil {
		return err
	}
	if store != nil {
		defer store.Close()
		cfg.Store = store
	}
	var q reports.Querier
	if f.queryURL != "" {
		if q, err = client.New(f.queryURL, client.Token(token)); err != nil {
			return usagef("--query: %v", err)
		}
	} else if store == nil {
		return usagef("give the read side: --query URL (the query service) or --influx-url URL (InfluxDB)")
	}
	start := time.Now()
	res, err := logtruth.Read(ctx, opts...)
	if errors.Is(err, logtruth.ErrUnreachable) {
		return usagef("--brokers %s: %v", f.kafka.Brokers(), err)
	}
	if err != nil {
		return err
	}
	if err := unknownSplits(res.Splits); err != nil {
		return err
	}
	st := res.Truth.Stats()
	var ack *logtruth.AckCheck
	if len(ss) > 0 {
		c := ss.CompareAcknowledged(st.Distinct + st.Late)
		ack = &c
	}
	if st.Distinct+st.Late == 0 && (ack == nil || ack.Acknowledged == 0) {
		return usagef("no event of the run in the log (%d records read): check --id-prefix, --from/--to, --topic-prefix and --brokers", res.Records)
	}
	if q == nil {
		from, to := res.Truth.Range()
		q = reports.StoreQuerier(store, from.UnixMilli(), to.UnixMilli())
		fmt.Println("read side: InfluxDB alone (--query \"\"): the query-service lines compare InfluxDB's totals summed over dimension sets")
	}
	cfg.Shared = func(d reports.WindowDiff) int64 { // other runs' records on the window: shared, not double counted
		size, err := time.ParseDuration(d.Window)
		if err != nil {
			return 0
		}
		return res.Shared(size, d.Type, d.Key, d.Start)
	}
	acc, err := reports.Check(ctx, res.Truth, q, cfg)
	var dial *net.OpError
	if errors.As(err, &dial) && dial.Op == "dial" {
		return usagef("the read side is unreachable (--query %s, --influx-url %s): %v", f.queryURL, f.influx.URL(), err)
	}
	if err != nil {
		return err
	}
	return reportFromLog(os.Stdout, res, st, acc, ack, time.Since(start))
}

// unknownSplits is exit 2 when the log's record keys split keys more ways
// than --hot-key says (logtruth.Result.Splits): the truth's canonical
// partitions would not be the engine's.
func unknownSplits(splits map[string]int) error {
	if len(splits) == 0 {
		return nil
	}
	var ks []string
	for _, k := range slices.Sorted(maps.Keys(splits)) {
		ks = append(ks, fmt.Sprintf("%s (record keys up to %s#%d)", k, k, splits[k]-1))
	}
	return usagef("the log's records split keys over more sub-keys than --hot-key says: %s; give --hot-key KEY=N with the pipeline's N for each (its gateway's and engine's --hot-key; at least the sub-keys seen)", strings.Join(ks, ", "))
}

// reportFromLog prints the verdict and returns exit 1 when a window differs
// or acknowledged events are missing from the log.
func reportFromLog(out io.Writer, res logtruth.Result, st oracle.Stats, acc reports.Accuracy, ack *logtruth.AckCheck, took time.Duration) error {
	refused := int64(0)
	for _, n := range st.Refused {
		refused += n
	}
	fmt.Fprintf(out, "log: %d committed records read, %d of the run over %d partitions: %d distinct events (%d too late), %d duplicates, %d refused %v, %d moved\n",
		res.Records, res.Matched, res.Partitions, st.Distinct+st.Late, st.Late, st.Duplicates, refused, st.Refused, st.Moved+st.Unmoved)
	if st.Unmoved > 0 {
		fmt.Fprintf(out, "  %d records outside their canonical partition had no moved copy yet (taken as moved; give a longer --wait while the engine catches up)\n", st.Unmoved)
	}
	if len(res.Unfinished) > 0 {
		fmt.Fprintf(out, "  partitions %v ended before their end offset (their last records were aborted)\n", res.Unfinished)
	}
	printCheck(acc, took) // check.go
	var fails []string
	if !acc.Exact {
		fails = append(fails, fmt.Sprintf("%d windows differ from the log's truth", acc.MismatchedWindows))
	}
	if ack != nil {
		fmt.Fprintln(out, ack.String())
		if ack.Lost > 0 {
			fails = append(fails, fmt.Sprintf("%d acknowledged events are not in the log", ack.Lost))
		}
	}
	if len(fails) > 0 {
		return exitError{1, errors.New(strings.Join(fails, "; "))}
	}
	return nil
}
