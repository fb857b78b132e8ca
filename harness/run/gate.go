package run

import (
	"time"

	"github.com/countlab/countlab/harness"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// The regression gate's wiring (reports.Gate does the statistics): run
// with a baseline, the runs of --repeat, report diff.

// LoadBaselines reads the --baseline runs and checks, before the run, that
// they are runs of sc (scenario, duration, seed): otherwise exit 2.
func LoadBaselines(args []string, sc *scenarios.Scenario) ([]reports.Run, error) {
	if len(args) == 0 {
		return nil, nil
	}
	runs, err := reports.LoadRuns(args...)
	if err != nil {
		return nil, harness.Configf("--baseline: %v", err)
	}
	probe := &reports.Report{Scenario: sc.Name, StartedAt: time.Now(), Config: sc.ConfigMap()}
	if _, err := reports.Comparable(runs, []reports.Run{{Path: "this run", Report: probe}}); err != nil {
		return nil, harness.Configf("--baseline refused: %v", err)
	}
	return runs, nil
}

// gateConfig is the gate's configuration from a report's scenario config
// (its baseline section: tolerances, default, min_abs, alpha).
func gateConfig(r *reports.Report) reports.GateConfig {
	cfg := reports.GateConfig{Effects: map[string]reports.Effect{}}
	m, _ := r.Config.(map[string]any)
	b, _ := m["baseline"].(map[string]any)
	num := func(v any) float64 { f, _ := v.(float64); return f }
	if def := num(b["default"]); def > 0 {
		for _, n := range scenarios.BaselineMetrics {
			cfg.Effects[n] = reports.Effect{Rel: def}
		}
	}
	for field, rel := range map[string]bool{"tolerances": true, "min_abs": false} {
		mm, _ := b[field].(map[string]any)
		for n, v := range mm {
			e := cfg.Effects[n]
			if rel {
				e.Rel = num(v)
			} else {
				e.Abs = num(v)
			}
			cfg.Effects[n] = e
		}
	}
	cfg.Alpha = num(b["alpha"])
	return cfg
}

// GateRuns gates the candidate's runs against the baseline's: exit 2 when
// they are not comparable.
func GateRuns(base, cur []reports.Run) (*reports.Comparison, error) {
	flags, err := reports.Comparable(base, cur)
	if err != nil {
		return nil, harness.Configf("comparison refused: %v", err)
	}
	c := reports.Gate(reports.Reports(base), reports.Reports(cur), reports.Paths(base), gateConfig(cur[len(cur)-1].Report))
	c.Flags = flags
	return c, nil
}

// GateReport gates the run written to dir against the baseline's runs,
// sets rep.Baseline (and rep.Pass) and rewrites the report.
func GateReport(rep *reports.Report, dir string, base []reports.Run) error {
	cur, err := reports.LoadRuns(dir)
	if err != nil {
		return err
	}
	c, err := GateRuns(base, cur)
	if err != nil {
		return err
	}
	rep.Baseline = c
	rep.Pass = rep.Pass && len(c.Regressed) == 0
	return rep.WriteFiles(dir)
}
