package reports

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report").Parse(htmlTemplateText))

// HTMLOpt is an option of WriteHTML.
type HTMLOpt func(*htmlCfg)

type htmlCfg struct {
	series *TimeSeries
}

// WithSeries adds the time-series charts (throughput, latency
// percentiles and consumer lag over time, faults shaded) to the HTML
// report, in place of the report's own Series.
func WithSeries(ts *TimeSeries) HTMLOpt { return func(c *htmlCfg) { c.series = ts } }

// WriteHTMLFile writes r's HTML report to path.
func (r *Report) WriteHTMLFile(path string, opts ...HTMLOpt) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f, opts...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteHTML writes report.html: one self-contained page (inline CSS, the
// charts as PNG data URIs, nothing fetched when viewed). The verdict (and
// an abort, with its reason, beside it) and the SLOs come first, then
// accuracy, latency, throughput, saturation, resources, CPU, the charts,
// the regression gate (regressed, passed and not-gated metrics, with the
// reason), the faults, the steady state, each fault's phases, the
// configuration and the provenance; a block report.json lacks is left out.
func (r *Report) WriteHTML(w io.Writer, opts ...HTMLOpt) error {
	var cfg htmlCfg
	for _, o := range opts {
		o(&cfg)
	}
	v, err := r.htmlView(&cfg)
	if err != nil {
		return err
	}
	return htmlTemplate.Execute(w, v)
}

// htmlView is what the template renders: every number already formatted.
type htmlView struct {
	R        *Report
	Verdict  string
	Started  string
	Failures []string
	SLO      []htmlSLO
	Late     string
	Worst    []htmlWorst
	Latency  []htmlLatency
	Bars     []htmlChart
	Charts   []htmlChart
	Faults   htmlTable
	Config   [][2]string

	// Saturation and Resources: stress and soak runs.
	Saturation    *htmlSaturation
	Resources     htmlTable
	ResourcesNote string
	// Provenance is the build and machine that produced the report.
	Provenance [][2]string
	CPU        htmlTable // cpu.go
	// CPUByRate and CPUChart are the CPU by stage against the offered
	// rate (cpusteps.go).
	CPUByRate     htmlTable
	CPUByRateNote string
	CPUChart      *htmlChart

	// SteadyState, Phases and Gate: the steady-state check, each fault's
	// phases and the regression gate's verdict (report.Aborted is shown
	// as is, beside the verdict).
	SteadyState *htmlSteady
	Phases      []htmlPhaseRow
	Gate        *htmlGate
}

type htmlSteady struct {
	From, To, Note string
	Pass           bool
	Checks         []htmlSLO
}

// htmlPhaseRow is one phase of one fault; First and Rows span the fault's
// name and recovery over its phases.
type htmlPhaseRow struct {
	Fault, Recovery, Phase, Lag, Errors, AckP99, Achieved string
	SLO                                                   []htmlSLO
	First, Fail                                           bool
	Rows                                                  int
}

// htmlGate is the regression gate: its metrics regressed first, then
// passed, then not gated (with the reason).
type htmlGate struct {
	Summary string
	Metrics []htmlMetric
	Flags   []string
}

type htmlSLO struct {
	Name, Rel, Threshold, Value string
	Pass                        bool
}

type htmlWorst struct {
	Source, Window, Start, Type, Key, DimSet, Count, Sum string
}

type htmlLatency struct {
	Name                            string
	P50, P90, P99, P999, Max, Count string
}

type htmlChart struct {
	Title string
	Src   template.URL
}

type htmlTable struct {
	Head []string
	Rows [][]string
}

type htmlMetric struct {
	Name, Baseline, Value, Change, Effect, Spread, P, Verdict string
	// Class is the row's class: fail (regressed), pass or skip (not
	// gated; Verdict says why).
	Class string
}

func (r *Report) htmlView(cfg *htmlCfg) (*htmlView, error) {
	v := &htmlView{R: r, Verdict: "PASS", Started: r.StartedAt.UTC().Format("2006-01-02 15:04:05 MST")}
	if a := r.Aborted; a != nil {
		v.Failures = append(v.Failures, fmt.Sprintf("aborted at %.1f s (%s): %s", a.AtS, a.Condition, a.Reason))
	}
	if !r.Pass {
		v.Verdict = "FAIL"
		for _, f := range r.Failed() {
			v.Failures = append(v.Failures, "SLO "+f)
		}
		if r.Baseline != nil {
			for _, m := range r.Baseline.Regressed {
				v.Failures = append(v.Failures, "regression "+m)
			}
		}
	}
	v.SLO = sloRows(r.SLO)
	v.Late = "late (not expected)"
	if r.Accuracy.IncludesLate {
		v.Late = "late (expected, after reconcile)"
	}
	for _, d := range r.Accuracy.WorstWindows {
		v.Worst = append(v.Worst, htmlWorst{Source: d.Source, DimSet: d.DimSet, Window: d.Window, Start: d.Start.UTC().Format(time.RFC3339), Type: d.Type, Key: d.Key,
			Count: fmt.Sprintf("%d (want %d)", d.GotCount, d.WantCount), Sum: fmt.Sprintf("%s (want %s)", num(d.GotSum), num(d.WantSum))})
	}
	spans := FaultSpans(r.Faults)
	for _, l := range r.latencyKinds() {
		p := l.p
		v.Latency = append(v.Latency, htmlLatency{Name: l.title, P50: num(p.P50), P90: num(p.P90), P99: num(p.P99), P999: num(p.P999),
			Max: num(p.Max), Count: fmt.Sprint(p.Count)})
		if p.Count == 0 {
			continue
		}
		png, err := LatencyBarChart(l.title+" latency (ms)", p)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", l.kind, err)
		}
		v.Bars = append(v.Bars, pngChart(l.title+" latency", png))
	}
	ts := cfg.series
	if ts == nil {
		ts = r.Series
	}
	if ts != nil {
		if len(ts.Offered)+len(ts.Achieved) > 0 {
			png, err := ThroughputChart(ts.Offered, ts.Achieved, spans)
			if err != nil {
				return nil, fmt.Errorf("throughput chart: %w", err)
			}
			v.Charts = append(v.Charts, pngChart("throughput over time", png))
		}
		for _, ls := range ts.Latency {
			title := ls.Kind + " latency over time (ms)"
			png, err := TimeChart(title, "ms", ls.Percentiles, spans)
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", title, err)
			}
			v.Charts = append(v.Charts, pngChart(title, png))
		}
		if len(ts.Lag) > 0 {
			png, err := LagChart(ts.Lag, spans)
			if err != nil {
				return nil, fmt.Errorf("consumer lag chart: %w", err)
			}
			v.Charts = append(v.Charts, pngChart("consumer lag over time", png))
		}
		if len(ts.PartitionLoad) > 0 {
			png, err := PartitionLoadChart(ts.PartitionLoad)
			if err != nil {
				return nil, fmt.Errorf("partition load chart: %w", err)
			}
			v.Bars = append(v.Bars, pngChart("events per partition", png))
		}
	}
	if err := r.saturationHTML(v); err != nil {
		return nil, err
	}
	if err := r.cpuHTML(v); err != nil {
		return nil, err
	}
	if err := r.resourcesHTML(v, ts, spans); err != nil {
		return nil, err
	}
	v.Faults = faultTable(r.Faults)
	v.Config = flatten("", map[string]any(r.Config), nil)
	v.Provenance = r.Provenance.rows()
	v.Gate = gateHTML(r.Baseline)
	v.SteadyState = steadyHTML(r.SteadyState)
	v.Phases = phasesHTML(r.FaultPhases)
	return v, nil
}

// sloRows are SLO results as table rows.
func sloRows(res []SLOResult) []htmlSLO {
	var out []htmlSLO
	for _, s := range res {
		h := htmlSLO{Name: s.Name, Threshold: num(s.Threshold), Value: num(s.Value), Pass: s.Pass}
		switch s.Kind {
		case "max":
			h.Rel = "≤"
		case "min":
			h.Rel = "≥"
		default:
			h.Rel, h.Threshold, h.Value = "=", "exact", fmt.Sprint(s.Pass)
		}
		out = append(out, h)
	}
	return out
}

// gateHTML is the regression gate's section: regressed, passed, then not
// gated metrics.
func gateHTML(c *Comparison) *htmlGate {
	if c == nil {
		return nil
	}
	g := &htmlGate{Flags: c.Flags}
	var groups [3][]htmlMetric
	for _, m := range c.Metrics {
		h := htmlMetric{Name: m.Name, Baseline: num(m.Baseline), Value: num(m.Value), Change: fmt.Sprintf("%+.1f%%", 100*m.Change),
			Effect: fmt.Sprintf("%.0f%% and %s", 100*m.Tolerance, num(m.MinAbs)), Spread: num(m.Spread), P: fmt.Sprintf("%.2g", m.P), Verdict: "ok", Class: "pass"}
		i := 1
		switch {
		case m.Regressed:
			i, h.Verdict, h.Class = 0, "REGRESSED", "fail"
		case !m.Gated: // no spread or p-value was held to anything
			i, h.Verdict, h.Class, h.Spread, h.P = 2, m.NotGated, "skip", "", ""
		}
		groups[i] = append(groups[i], h)
	}
	g.Metrics = slices.Concat(groups[0], groups[1], groups[2])
	g.Summary = fmt.Sprintf("%d run(s) against %d baseline run(s): %d regressed, %d passed, %d not gated.",
		c.Runs, c.BaselineRuns, len(groups[0]), len(groups[1]), len(groups[2]))
	return g
}

// steadyHTML is the steady-state section.
func steadyHTML(ss *SteadyState) *htmlSteady {
	if ss == nil {
		return nil
	}
	return &htmlSteady{From: ss.From.UTC().Format("15:04:05"), To: ss.To.UTC().Format("15:04:05"), Note: ss.Note, Pass: ss.Pass, Checks: sloRows(ss.Checks)}
}

// phasesHTML are the fault phases' rows: a row a phase, the fault's name
// and recovery spanning its phases.
func phasesHTML(fps []FaultPhases) []htmlPhaseRow {
	var out []htmlPhaseRow
	for _, fp := range fps {
		rec := "did not recover"
		if fp.RecoveryS >= 0 {
			rec = fmt.Sprintf("%.1f", fp.RecoveryS)
		}
		for i, p := range fp.Phases {
			worst := func(probe string, f func(float64) string) string {
				if v, ok := p.Worst[probe]; ok {
					return f(v)
				}
				return "–"
			}
			row := htmlPhaseRow{Fault: fp.Fault + " (" + fp.Kind + ")", Recovery: rec, Phase: p.Phase, First: i == 0, Rows: len(fp.Phases),
				Lag: worst(ProbeEngineLag, num), Errors: worst(ProbeIngestErrorShare, func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }),
				AckP99: worst(ProbeIngestAckP99, num), Achieved: worst(ProbeAchieved, num), SLO: sloRows(p.SLO)}
			for _, s := range p.SLO {
				row.Fail = row.Fail || !s.Pass
			}
			out = append(out, row)
		}
	}
	return out
}

type latencyKind struct {
	kind, title string
	p           Percentiles
}

func (r *Report) latencyKinds() []latencyKind {
	return []latencyKind{
		{"ingest_ack", "Ingest ack", r.Latency.IngestAck},
		{"freshness", "Freshness (sent → visible)", r.Latency.Freshness},
		{"query", "Query", r.Latency.Query},
	}
}

func pngChart(title string, png []byte) htmlChart {
	// The bytes are our own PNG encoding: safe as a data URI.
	return htmlChart{Title: title, Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))}
}

// Keys a fault record may carry, in the order shown and looked for.
// FaultSpans are the intervals of a report's faults, from each injection
// to its recovery (Span); faults never injected are skipped.
func FaultSpans(faults []FaultRecord) []Span {
	var out []Span
	for _, f := range faults {
		if s, ok := f.Span(); ok {
			out = append(out, s)
		}
	}
	return out
}

// faultTable is the faults as a table.
func faultTable(faults []FaultRecord) htmlTable {
	var t htmlTable
	if len(faults) == 0 {
		return t
	}
	t.Head = []string{"name", "kind", "injected_at", "healed_at", "heal_s", "recovery_s", "hits", "error"}
	at := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format("15:04:05.000")
	}
	for _, f := range faults {
		rec := scalar(f.RecoveryS)
		if f.RecoveryS < 0 {
			rec = "did not recover"
		}
		hits := ""
		if f.Hits > 0 {
			hits = strconv.FormatInt(f.Hits, 10)
		}
		t.Rows = append(t.Rows, []string{f.Name, f.Kind, at(f.InjectedAt), at(f.HealedAt), scalar(f.HealS), rec, hits, f.Error})
	}
	return t
}

// flatten lists a configuration (maps of maps, from YAML or JSON) as
// dotted keys and values, sorted.
func flatten(prefix string, v any, out [][2]string) [][2]string {
	switch m := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = flatten(p, m[k], out)
		}
		return out
	case nil:
		if prefix == "" {
			return out
		}
	}
	return append(out, [2]string{prefix, scalar(v)})
}

// scalar formats one value of a fault or the configuration.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return num(x)
	case bool, int, int64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
