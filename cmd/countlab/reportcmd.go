package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/countlab/countlab/harness/run"
	"github.com/countlab/countlab/reports"
)

const reportUsage = `usage: countlab report diff OLD NEW [--junit FILE]
       countlab report html REPORT.json [-o FILE]
       countlab report merge SHARD/report.json ... -o DIR [--check CHECK.json]

diff  gates NEW against OLD metric by metric with the regression gate of
      countlab run --baseline (a rank test between the runs and a minimum
      effect per metric, from NEW's scenario; percentiles with too few samples
      behind them are not gated), shows accuracy and every SLO side by side,
      and exits 1 when NEW regressed, failed an SLO or is not exact, 2 when
      the runs are not comparable (another scenario, duration or seed).
      OLD and NEW are each a report.json, a run directory or a directory of
      runs (countlab run --repeat); several are comma-separated.
      --junit writes the verdicts as JUnit XML.
html  writes the HTML report of a report.json (default: report.html next to it).
merge combines the reports of sharded generators (countlab load) into one in DIR:
      rates and counts add, the latencies are the percentiles of the shards'
      summed HDR histograms (latency.hdr beside each report.json, exact);
      --check takes the accuracy from countlab check --truth ... --json.
`

// cmdReport works on report.json files after a run.
func cmdReport(_ context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("a subcommand is required\n\n%s", reportUsage)
	}
	switch args[0] {
	case "diff":
		return cmdReportDiff(os.Stdout, args[1:])
	case "html":
		return cmdReportHTML(os.Stdout, args[1:])
	case "merge":
		return cmdReportMerge(os.Stdout, args[1:]) // reportmerge.go
	case "-h", "--help", "help":
		fmt.Fprint(os.Stderr, reportUsage+reportHelpMore) // reportdiffjson.go
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q\n\n%s", args[0], reportUsage)
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseArgs(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func cmdReportHTML(out io.Writer, args []string) error {
	fs := newFlagSet("report html")
	setUsage(fs, "countlab report html REPORT.json [-o FILE]")
	o := fs.String("o", "", "the HTML file to write (default report.html next to REPORT.json)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one REPORT.json, got %d arguments", len(pos))
	}
	r, err := reports.ReadFile(pos[0])
	if err != nil {
		return usageError{Err: err}
	}
	path := *o
	if path == "" {
		path = filepath.Join(filepath.Dir(pos[0]), reports.HTMLFile)
	}
	if err := r.WriteHTMLFile(path); err != nil {
		return err
	}
	fmt.Fprintln(out, path)
	return nil
}

func cmdReportDiff(out io.Writer, args []string) error {
	fs := newFlagSet("report diff")
	setUsage(fs, "countlab report diff OLD NEW [--junit FILE]")
	junit := fs.String("junit", "", "also write the verdicts as JUnit XML to this file")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want OLD NEW, got %d arguments", len(pos))
	}
	var oldArgs, newArgs listFlag
	_ = oldArgs.Set(pos[0])
	_ = newArgs.Set(pos[1])
	oldRuns, err := reports.LoadRuns(oldArgs...)
	if err != nil {
		return usageError{Err: err}
	}
	curRuns, err := reports.LoadRuns(newArgs...)
	if err != nil {
		return usageError{Err: err}
	}
	cmp, err := run.GateRuns(oldRuns, curRuns) // gate.go: exit 2 when not comparable
	if err != nil {
		return err
	}
	cur := curRuns[len(curRuns)-1].Report
	d := reports.NewDiff(oldRuns[len(oldRuns)-1].Report, cur, cmp)
	if reportDiffJSON { // --json (reportdiffjson.go)
		_ = printJSON(out, d.JSON(pos[0], pos[1])) // stdout: nothing to do about an error
	} else {
		d.WriteText(out, pos[0], pos[1])
	}
	if *junit != "" {
		if err := d.WriteJUnit(*junit, cur.Scenario); err != nil {
			return err
		}
	}
	if fails := d.Failures(); len(fails) > 0 {
		return exitError{1, fmt.Errorf("%s: %s", pos[1], strings.Join(fails, "; "))}
	}
	return nil
}
