package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/countlab/countlab/reports"
)

// cmdReportMerge is `countlab report merge`: the shards' reports and
// histograms read, reports.MergeShards, the whole written.
func cmdReportMerge(out io.Writer, args []string) error {
	fs := newFlagSet("report merge")
	o := fs.String("o", "", "the directory to write the merged report.json, report.md, report.html and "+reports.HistogramFile+" to (required)")
	checkFile := fs.String("check", "", "the accuracy of the merged report: the output of countlab check --truth ... --json (the report then passes only when exact)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want one or more SHARD/report.json (or shard directories)")
	}
	if *o == "" {
		return usagef("-o DIR is required (where the merged report goes)")
	}
	var shards []reports.Shard
	for _, p := range pos {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, reports.JSONFile)
		}
		r, err := reports.ReadFile(p)
		if err != nil {
			return usageError{Err: err}
		}
		h, err := reports.ReadHistograms(filepath.Join(filepath.Dir(p), reports.HistogramFile))
		if err != nil {
			return usagef("%s: %v (a shard's report needs its %s: countlab load writes it)", p, err, reports.HistogramFile)
		}
		shards = append(shards, reports.Shard{Report: r, Histograms: h})
	}
	rep, sum, err := reports.MergeShards(shards)
	if err != nil {
		return usageError{Err: err}
	}
	if *checkFile != "" {
		b, err := os.ReadFile(*checkFile)
		if err != nil {
			return usagef("--check: %v", err)
		}
		var c checkJSON // checkout.go
		if err := json.Unmarshal(b, &c); err != nil {
			return usagef("--check %s: not the output of countlab check --json: %v", *checkFile, err)
		}
		rep.Accuracy = c.Accuracy
		rep.Pass = rep.Pass && c.Accuracy.Exact
	}
	if err := rep.WriteFiles(*o); err != nil {
		return err
	}
	if err := sum.WriteFile(filepath.Join(*o, reports.HistogramFile)); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d shards merged (pass %v): %d acknowledged, %.0f events/s, ingest-ack p50 %.2f ms p99 %.2f ms (%d samples): %s\n", len(shards), rep.Pass,
		rep.Traffic.Acked, rep.Throughput.AchievedEventsPerS, rep.Latency.IngestAck.P50, rep.Latency.IngestAck.P99, rep.Latency.IngestAck.Count,
		filepath.Join(*o, reports.JSONFile))
	return nil
}
