package main

// Every subcommand's -h: a synopsis, what it does, an example, the
// environment variables it reads, then its flags. newFlagSet installs the
// text of the command's name; a test walks every command's -h.

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/scenarios"
)

// helpText is one command's -h text.
type helpText struct {
	// synopsis is the usage line(s), without "usage: ".
	synopsis string
	// about says what the command does; more, when set, adds text
	// computed at -h time (the shipped scenario names, say).
	about string
	more  func() string
	// example is one or more command lines that work as written.
	example string
	// env are the environment variables the command reads.
	env []string
}

// The environment variables, as -h lists them.
const (
	envToken       = "COUNTLAB_TOKEN, COUNTLAB_TOKEN_FILE     bearer token the gateway and query service require (and clients send); unset: no authentication, loopback only"
	envClientToken = "COUNTLAB_TOKEN, COUNTLAB_TOKEN_FILE     bearer token sent to the query service"
	envInflux      = "COUNTLAB_INFLUX_TOKEN, COUNTLAB_INFLUX_TOKEN_FILE   InfluxDB 2.x token (with --influx-url); COUNTLAB_INFLUX_PASSWORD[_FILE]: the 1.x --influx-user's password"
	envKafka       = "COUNTLAB_KAFKA_PASSWORD, COUNTLAB_KAFKA_PASSWORD_FILE   Kafka SASL password (with --sasl-mechanism)"
	envInfluxd     = "COUNTLAB_INFLUXD                        path of the influxd 1.8 binary the managed InfluxDB runs (default: bin/influxd, then $PATH)"
)

var stackEnv = []string{envToken, envInflux, envKafka, envInfluxd}

// helps are the -h texts by newFlagSet name.
var helps = map[string]helpText{
	"up": {
		synopsis: "countlab up [flags]",
		about: "Starts the whole embedded stack (broker, managed influxd, engine, sink, query service, gateway) on fixed\n" +
			"loopback ports and keeps it running until Ctrl-C or SIGTERM; prints every address, the metrics endpoint\n" +
			"and curl commands to try. Temp data is removed at exit unless --data-dir is given.",
		example: "countlab up\n  countlab up --data-dir ./data --influx-listen 127.0.0.1:8086 --metrics-listen 127.0.0.1:9100",
		env:     stackEnv,
	},
	"run": {
		synopsis: "countlab run SCENARIO [flags]",
		about:    "Runs a scenario against the embedded stack (or the cluster and InfluxDB the flags name), checks every\nwindow exactly against the truth and writes report.json, report.md, report.html and truth.bin.",
		more: func() string {
			return fmt.Sprintf("SCENARIO is a scenario file or the name of a shipped one (%s).\n\nfault kinds (a scenario's faults:):\n%s",
				strings.Join(scenarios.Names(), ", "), indentLines(faults.KindDoc(), "  "))
		},
		example: "countlab run quickstart\n  countlab run worker-crash --duration 30s --report-dir out/wc",
		env:     stackEnv,
	},
	"plan": {
		synopsis: "countlab plan PLAN [flags]",
		about: "For every partitions x workers cell of the plan's grid: start the stack, ramp the offered rate until a trial is not\n" +
			"sustainable, binary-search the maximum sustainable rate, check the cell's events exactly; then fit the Universal\n" +
			"Scalability Law over workers and size the plan's target. Engine workers run as processes (--engine-procs) unless\n" +
			"--engine-procs=false; --partitions and --workers are the grid's. Writes plan.json, plan.md and plan.html.",
		more: func() string {
			return fmt.Sprintf("PLAN is a plan file or the name of a shipped one (%s).", strings.Join(scenarios.PlanNames(), ", "))
		},
		example: "countlab plan " + firstOr(scenarios.PlanNames(), "PLAN") + " --report-dir out/plan",
		env:     stackEnv,
	},
	"selfcheck": {
		synopsis: "countlab selfcheck [run flags]",
		about:    "countlab run selfcheck: the shipped selfcheck scenario (10 s of events with duplicates, out-of-order and\nmalformed ones, through the gateway) on the embedded stack, every window the query service and InfluxDB\nserve checked exactly; exit 1 when one differs. It takes run's flags (countlab run -h).",
		example:  "countlab selfcheck --report-dir out/selfcheck",
		env:      stackEnv,
	},
	"broker": {
		synopsis: "countlab broker [flags]",
		about: "Runs the embedded Kafka broker (kfake) as its own process with countlab's topics; a restart with the same\n" +
			"--data-dir finds every acknowledged record, committed offset and transaction. Prints \"broker listening on\n" +
			"ADDR\" and \"ready\".",
		example: "countlab broker --listen 127.0.0.1:9092 --data-dir ./kafka-data --partitions 8\n  COUNTLAB_KAFKA_PASSWORD=s3cret countlab broker --sasl-mechanism SCRAM-SHA-256 --sasl-user alice",
		env:     []string{envKafka},
	},
	"engine": {
		synopsis: "countlab engine --brokers host:port[,...] [flags]",
		about:    "Runs one aggregator worker (a member of the engine's consumer group) until SIGTERM or Ctrl-C; prints\n\"engine ready\" once its first assignment is restored.",
		example:  "countlab engine --brokers 127.0.0.1:9092 --windows 10s,1m --txn-id engine-0 --metrics-listen 127.0.0.1:9101",
		env:      []string{envKafka},
	},
	"sink": {
		synopsis: "countlab sink --brokers host:port[,...] --influx-url URL [flags]",
		about:    "Writes window totals from the aggregates topic to InfluxDB until Ctrl-C; with --replay-dead-letter, replays\nthe sink dead-letter topic once and prints the result as JSON.",
		example:  "countlab sink --brokers 127.0.0.1:9092 --influx-url http://127.0.0.1:8086 --metrics-listen 127.0.0.1:9102",
		env:      []string{envKafka, envInflux},
	},
	"gateway": {
		synopsis: "countlab gateway --brokers host:port[,...] [flags]",
		about: "Runs the ingest gateway: POST /v1/events (JSON or protobuf batches) validated and produced to Kafka,\n" +
			"GET /healthz, GET /metrics. An address other hosts can reach needs COUNTLAB_TOKEN (or --insecure-no-token).",
		example: "countlab gateway --brokers 127.0.0.1:9092 --listen 127.0.0.1:8080",
		env:     []string{envToken, envKafka},
	},
	"query-server": {
		synopsis: "countlab query-server [--brokers host:port[,...]] [--influx-url URL] [flags]",
		about: "Serves counts, stats and top-N over HTTP JSON from window totals: recent windows from the aggregates topic\n" +
			"(in memory), older ones from InfluxDB; GET /metrics. An address other hosts can reach needs COUNTLAB_TOKEN\n" +
			"(or --insecure-no-token).",
		example: "countlab query-server --brokers 127.0.0.1:9092 --influx-url http://127.0.0.1:8086 --listen 127.0.0.1:8081",
		env:     []string{envToken, envKafka, envInflux},
	},
	"reconcile": {
		synopsis: "countlab reconcile --brokers host:port[,...] --from T --to T --influx-url URL [flags]",
		about:    "Recounts windows from the raw events topic and repairs closed windows whose stored totals differ.",
		example:  "countlab reconcile --brokers 127.0.0.1:9092 --influx-url http://127.0.0.1:8086 --from 2026-01-01T10:00:00Z --to 2026-01-01T11:00:00Z --dry-run",
		env:      []string{envKafka, envInflux},
	},
	"check": {
		synopsis: "countlab check --truth DIR/truth.bin [--truth SHARD2 ...] [--query URL] [--influx-url URL] [--json] [flags]\n       countlab check --from-log --brokers HOST:PORT ... (see countlab check --from-log -h)",
		about: "Checks a saved truth (a run's truth.bin) against a query service and, with --influx-url, against what InfluxDB\n" +
			"stores: exit 0 when every window is exact, 1 when one differs, 2 for a configuration problem (a missing truth\n" +
			"file, an unreachable query service). --json prints the result as JSON ({\"exact\", \"duration_s\", \"accuracy\":\n" +
			"report.json's accuracy block}). Several --truth (the shards of countlab load) are merged exactly first; shards\n" +
			"that acknowledged the same identity fail the check.",
		example: "countlab check --truth reports/out/quickstart-20260101T100000Z/truth.bin --query http://127.0.0.1:8081 --wait 30s --json",
		env:     []string{envClientToken, envInflux},
	},
	"load": {
		synopsis: "countlab load SCENARIO --shard I/N --run-id ID --start T --out DIR [--gateway URL] [--duration D] [--rate R]",
		about: "A sharded generator: sends shard I of N of the scenario's traffic (the events whose sequence number is I modulo N,\n" +
			"with every duplicate of them; about 1/N of the rate, the same keys and skew) to a running gateway (countlab up)\n" +
			"and writes the shard's truth.bin, truth.ids (its acknowledged identities), latency.hdr and report.json/md/html.\n" +
			"N processes with the same scenario, --run-id, --start, --duration and --rate send the unsharded traffic exactly\n" +
			"once; check them with countlab check --truth S0 --truth S1 ..., report them with countlab report merge.",
		example: "countlab load ci-smoke --shard 0/4 --run-id r1- --start 2026-01-01T10:00:00Z --out out/s0 --gateway http://127.0.0.1:8080",
		env:     []string{envToken},
	},
	"check --from-log": {
		synopsis: "countlab check --from-log --brokers HOST:PORT (--from T --to T | --id-prefix P | --summary FILE...) [--query URL] [--influx-url URL]",
		about:    "Derives the truth from the broker's committed events log (for k6 or any producer countlab did not run) and\nchecks the query service (and InfluxDB) against it.",
		example:  "countlab check --from-log --brokers 127.0.0.1:9092 --id-prefix k6- --query http://127.0.0.1:8081",
		env:      []string{envClientToken, envKafka, envInflux},
	},
	"report html": {
		synopsis: "countlab report html REPORT.json [-o FILE]",
		about:    "Writes the HTML report of a report.json (default: report.html next to it).",
		example:  "countlab report html reports/out/quickstart-20260101T100000Z/report.json -o /tmp/report.html",
	},
	"report merge": {
		synopsis: "countlab report merge SHARD/report.json ... -o DIR [--check CHECK.json]",
		about: "Combines the reports of sharded generators (countlab load) into DIR/report.json, report.md, report.html and\n" +
			"latency.hdr: rates and counts add, every latency is the percentiles of the shards' summed HDR histograms\n" +
			"(latency.hdr beside each report.json; they add exactly). A SHARD may be the shard's directory. --check takes\n" +
			"the accuracy from the output of countlab check --truth ... --json.",
		example: "countlab report merge out/s0 out/s1 out/s2 out/s3 -o out/all --check out/check.json",
	},
	"report diff": {
		synopsis: "countlab report diff OLD NEW [--junit FILE] [--json]",
		about: "Gates NEW against OLD metric by metric (the regression gate of countlab run --baseline) and shows accuracy and\n" +
			"every SLO side by side; OLD and NEW are each a report.json, a run directory or a directory of runs. Exit 1 when\n" +
			"NEW regressed, failed an SLO or is not exact, 2 when a report cannot be read or the runs are not comparable.\n" +
			"--json prints the comparison as typed JSON instead of the table.",
		example: "countlab report diff baseline/report.json reports/out/quickstart-20260101T100000Z/report.json --junit diff.xml",
	},
	"version": {
		synopsis: "countlab version [--json]",
		about:    "Prints countlab's version, VCS revision, Go version and the machine it runs on (the provenance every\nreport.json carries).",
		example:  "countlab version --json",
	},
}

// firstOr is xs[0], or def when xs is empty.
func firstOr(xs []string, def string) string {
	if len(xs) == 0 {
		return def
	}
	return xs[0]
}

// applyHelp makes fs's -h print its command's help text, when help.go has
// one (it wins over a Usage the command set itself).
func applyHelp(fs *flag.FlagSet) {
	if h, ok := helps[strings.TrimPrefix(fs.Name(), "countlab ")]; ok {
		fs.Usage = func() { writeHelp(fs.Output(), h, fs) }
	}
}

// writeHelp writes h and then fs's flags to w.
func writeHelp(w io.Writer, h helpText, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.synopsis, h.about)
	if h.more != nil {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.more(), "\n"))
	}
	writeExampleEnv(w, h)
	if fs != nil {
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
}

// writeExampleEnv writes h's example and environment sections.
func writeExampleEnv(w io.Writer, h helpText) {
	fmt.Fprintf(w, "\nexample:\n  %s\n\nenvironment:\n", h.example)
	if len(h.env) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, e := range h.env {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// indentLines prefixes every line of text with pre.
func indentLines(text, pre string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "")
}
