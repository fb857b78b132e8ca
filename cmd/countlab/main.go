// Command countlab is the one CLI of countlab: the embedded stack, the
// engine, the gateway, the query service, the simulator and the reports.
// It is the only place where packages are wired together.
//
// Exit codes: 0 success (every SLO held), 1 failure (an SLO or check
// failed), 2 usage or configuration error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/countlab/countlab/harness"
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"broker":       {"run the embedded Kafka broker (kfake) as its own process", cmdBroker},
		"up":           {"start the whole embedded stack and keep it running until Ctrl-C", cmdUp},
		"selfcheck":    {"countlab run selfcheck: the embedded stack, 10 s of events, every window checked exactly", cmdSelfcheck},
		"gateway":      {"run the ingest gateway against a Kafka cluster", cmdGateway},
		"engine":       {"run one aggregator worker (a consumer-group member)", cmdEngine},
		"sink":         {"run the InfluxDB sink (aggregates topic -> InfluxDB)", cmdSink},
		"reconcile":    {"recount windows from the raw events topic and repair closed windows that differ", cmdReconcile},
		"query-server": {"run the query service (count, stats, top-N)", cmdQueryServer},
		"report":       {"compare two report.json files (diff, --junit) or rebuild a report's HTML", cmdReport},
		"run":          {"run a scenario, check every window exactly, write report.json/report.md", cmdRun},
		"load":         {"send shard I/N of a scenario's traffic to a running gateway, write its truth (check --truth, report merge)", cmdLoad},
		"plan":         {"capacity planning: max sustainable rate per partitions x workers, USL fit, sizing", cmdPlan},
		"scenarios":    {"list, validate or show scenarios", cmdScenarios},
		"check":        {"check a saved truth (DIR/truth.bin) against the query service and InfluxDB", cmdCheck},
		"version":      {"print the version", cmdVersion},
	}
}

// usageError marks an error as a usage or configuration error (exit 2):
// the library's harness.ConfigError, so that a bad option found by
// harness/stack or harness/run exits 2 as a bad flag does.
type usageError = harness.ConfigError

func usagef(format string, a ...any) error { return harness.Configf(format, a...) }

// exitError carries an explicit exit code (1 for a failed check).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stderr))
}

func runMain(args []string, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "countlab: unknown command %q\n\n", args[0])
		printUsage(stderr, cmds)
		return 2
	}
	c = withOps(args[0], c) // checkout.go
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := c.run(ctx, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "countlab %s: %v\n", args[0], err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: countlab COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'countlab COMMAND -h' for a command's flags.")
}

// newFlagSet is a flag set that reports errors instead of exiting, so a bad
// flag becomes exit code 2 with the flag named.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("countlab "+name, flag.ContinueOnError)
	applyHelp(fs) // help.go
	return fs
}

// setUsage makes fs's -h print "usage: " and text, then the flags (a
// command with a help.go entry prints that instead).
func setUsage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", text)
		fs.PrintDefaults()
	}
	applyHelp(fs)
}

// parseFlags parses args into fs; a bad flag is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	applyHelp(fs)
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags go before nothing else; see -h)", fs.Arg(0))
	}
	return checkParsed(fs) // flagcheck.go
}

// parseArgs is fs.Parse(args) with one-line errors: -h prints the
// command's help and returns flag.ErrHelp, and a bad flag is a usage error
// naming it and pointing at -h, without the whole help text after it (the
// flag package's default, which buries the error under a page of flags).
func parseArgs(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	}
	return usageError{Err: fmt.Errorf("%w (see '%s -h')", err, fs.Name())}
}

// printJSON writes v to w as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// version is set by the linker (-X main.version=...) for a release build;
// the build info's module version is used otherwise (version.go).
var version = "dev"
