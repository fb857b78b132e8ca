package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/scenarios"
)

// The regression gate's flags and wiring (reports.Gate does the
// statistics): run --baseline and --repeat, report diff.

// plantQueryDelayFlag is the hidden --plant-query-delay-ms=N flag of run,
// TEST ONLY: the harness answers every query N ms late (a handler in front
// of the query service), a planted regression for the gate.
const plantQueryDelayFlag = "plant-query-delay-ms"

// plantSlowGatewayFlag is the hidden --plant-slow-gateway flag of run,
// TEST ONLY: the gateway admits half the scenario's peak rate
// (engine.gateway_max_events_per_s halved), a planted regression for the
// gate.
const plantSlowGatewayFlag = "plant-slow-gateway"

// listFlag is a flag given several times or with comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// delayHandler answers every request d late (--plant-query-delay-ms).
func delayHandler(d time.Duration) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// halveGateway halves the gateway's admission (--plant-slow-gateway): a
// capped gateway's cap, or half the scenario's peak offered rate.
func halveGateway(sc *scenarios.Scenario) {
	if sc.Engine.GatewayMaxEventsPerS > 0 {
		sc.Engine.GatewayMaxEventsPerS /= 2
		return
	}
	r := sc.Traffic.Rate
	sc.Engine.GatewayMaxEventsPerS = max(r.EventsPerS, r.ToEventsPerS, r.PeakEventsPerS) / 2
}

// loadBaselines reads the --baseline runs and checks, before the run, that
// they are runs of sc (scenario, duration, seed): otherwise exit 2.
func loadBaselines(args []string, sc *scenarios.Scenario) ([]reports.Run, error) {
	if len(args) == 0 {
		return nil, nil
	}
	runs, err := reports.LoadRuns(args...)
	if err != nil {
		return nil, usagef("--baseline: %v", err)
	}
	probe := &reports.Report{Scenario: sc.Name, StartedAt: time.Now(), Config: sc.ConfigMap()}
	if _, err := reports.Comparable(runs, []reports.Run{{Path: "this run", Report: probe}}); err != nil {
		return nil, usagef("--baseline refused: %v", err)
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

// gateRuns gates the candidate's runs against the baseline's: exit 2 when
// they are not comparable.
func gateRuns(base, cur []reports.Run) (*reports.Comparison, error) {
	flags, err := reports.Comparable(base, cur)
	if err != nil {
		return nil, usagef("comparison refused: %v", err)
	}
	c := reports.Gate(reports.Reports(base), reports.Reports(cur), reports.Paths(base), gateConfig(cur[len(cur)-1].Report))
	c.Flags = flags
	return c, nil
}

// gateReport gates the run written to dir against the baseline's runs,
// sets rep.Baseline (and rep.Pass) and rewrites the report.
func gateReport(rep *reports.Report, dir string, base []reports.Run) error {
	cur, err := reports.LoadRuns(dir)
	if err != nil {
		return err
	}
	c, err := gateRuns(base, cur)
	if err != nil {
		return err
	}
	rep.Baseline = c
	rep.Pass = rep.Pass && len(c.Regressed) == 0
	return rep.WriteFiles(dir)
}
