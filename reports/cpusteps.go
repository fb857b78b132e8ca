package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// CPU by stage over the run: the probes cut the traffic into intervals
// (CPUInterval, a few seconds each), and the report shows each stage's
// cores per interval (CPU.Intervals) and per bin of offered rate
// (CPU.ByRate), the chart of CPU by stage against the offered rate.
//
// What is exact and what estimated: a process's CPU over an interval is
// exact (utime+stime from /proc/PID/stat at both ends, to the clock tick,
// 10 ms): the engine worker processes, influxd and a broker process are
// exact stages. The countlab process's stages (the in-process engine,
// gateway, broker, sink, query service, the harness and the unlabelled
// runtime work) are its exact CPU split by the shares of its CPU profile's
// samples over the interval: an estimate, sampled at 100 Hz (about 100
// samples per busy core-second, so a stage's share of a 5 s interval is
// known to a few percent), and the profile is stopped and started again at
// each interval's end, so the samples of the ~0.1 s that takes are missing
// (from every stage alike: the shares do not depend on it).

// CPUInterval is what the probes measured over one interval, for NewCPU.
type CPUInterval struct {
	// FromS and ToS are its start and end, in seconds from the start of
	// the traffic.
	FromS, ToS float64
	// OfferedEventsPerS is the schedule's mean rate over it and
	// AchievedEventsPerS the events acknowledged a second.
	OfferedEventsPerS, AchievedEventsPerS float64
	// Processes are each process's CPU seconds over it (PIDs unused).
	Processes []ProcessCPUTime
	// StageSamples are the countlab process's profile samples over it by
	// stage (nil: no profile).
	StageSamples map[string]int64
}

// CPUStep is the CPU by stage over one interval, or over the intervals of
// one bin of offered rate (time-weighted).
type CPUStep struct {
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
	// Seconds is the time measured (a bin's intervals need not be
	// contiguous).
	Seconds            float64 `json:"seconds"`
	OfferedEventsPerS  float64 `json:"offered_events_per_s"`
	AchievedEventsPerS float64 `json:"achieved_events_per_s"`
	// Stages are the cores of each stage (StageOrder), the ones measured.
	Stages []StageCores `json:"stages"`
	// Cores is every process's; SUTCores the system under test's (the
	// unlabelled share split as in CPU.SUT) and HarnessCores the rest.
	Cores        float64 `json:"cores"`
	SUTCores     float64 `json:"sut_cores"`
	HarnessCores float64 `json:"harness_cores"`
	// SUTMicrosPerEvent is the system under test's CPU-µs per
	// acknowledged event (0: none acknowledged).
	SUTMicrosPerEvent float64 `json:"sut_cpu_us_per_event"`
}

// StageCores is one stage's cores in a CPUStep.
type StageCores struct {
	Stage string  `json:"stage"`
	Cores float64 `json:"cores"`
	// Exact is true when they are processes' CPU only (no profile share).
	Exact bool `json:"exact"`
}

// StageInfluxd is the influxd process as a stage of CPUStep; a broker
// process is StageBroker and engine worker processes StageEngine.
const StageInfluxd = "influxd"

// StageOrder is the order of the stages in a CPUStep (and the chart's
// stacking, bottom up): the system under test in data-flow order, then
// the harness, the runtime's unlabelled work and the countlab process
// when its profile was missing (HarnessProcess: not split).
var StageOrder = []string{StageGateway, StageBroker, StageEngine, StageSink, StageInfluxd, StageQuery, StageHarness, StageUnlabelled, HarnessProcess}

// stageOf is the CPUStep stage of a process (other than countlab) or of a
// countlab profile label: engine worker processes are the engine, the
// fault proxies the harness.
func stageOf(name string) string {
	switch {
	case strings.HasPrefix(name, "engine-"):
		return StageEngine
	case name == StageNetProxy:
		return StageHarness
	}
	return name
}

// newStep is iv's CPUStep; self is the countlab process's name.
func newStep(iv CPUInterval, self string) CPUStep {
	st := CPUStep{FromS: iv.FromS, ToS: iv.ToS, Seconds: iv.ToS - iv.FromS, OfferedEventsPerS: iv.OfferedEventsPerS, AchievedEventsPerS: iv.AchievedEventsPerS}
	if st.Seconds <= 0 {
		return st
	}
	cpuS := map[string]float64{}
	estimated := map[string]bool{}
	var sut, harness float64
	for _, p := range iv.Processes {
		if p.Name != self {
			cpuS[stageOf(p.Name)] += p.CPUS
			sut += p.CPUS
			continue
		}
		var c CPU
		s, h := c.splitSelf(p.CPUS, iv.StageSamples)
		sut, harness = sut+s, harness+h
		if len(c.Stages) == 0 {
			cpuS[HarnessProcess] += p.CPUS
			estimated[HarnessProcess] = true
		}
		for _, sc := range c.Stages {
			cpuS[stageOf(sc.Name)] += sc.CPUS
			estimated[stageOf(sc.Name)] = true
		}
	}
	st.Stages = orderedStages(cpuS, estimated, st.Seconds)
	st.SUTCores, st.HarnessCores, st.Cores = sut/st.Seconds, harness/st.Seconds, (sut+harness)/st.Seconds
	if acked := iv.AchievedEventsPerS * st.Seconds; acked > 0 {
		st.SUTMicrosPerEvent = sut * 1e6 / acked
	}
	return st
}

// orderedStages are the stages of cpuS (CPU seconds) as cores over secs,
// in StageOrder, then any other by name.
func orderedStages(cpuS map[string]float64, estimated map[string]bool, secs float64) []StageCores {
	names := make([]string, 0, len(cpuS))
	for n := range cpuS {
		names = append(names, n)
	}
	rank := func(n string) int {
		if i := slices.Index(StageOrder, n); i >= 0 {
			return i
		}
		return len(StageOrder)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	out := make([]StageCores, 0, len(names))
	for _, n := range names {
		out = append(out, StageCores{Stage: n, Cores: cpuS[n] / secs, Exact: !estimated[n]})
	}
	return out
}

// mergeSteps is the time-weighted CPUStep of steps (nil: none with time).
func mergeSteps(steps []CPUStep, weight func(*CPUStep) float64) *CPUStep {
	out := CPUStep{FromS: math.Inf(1), ToS: math.Inf(-1)}
	cpuS := map[string]float64{}
	estimated := map[string]bool{}
	var sut, harness, acked float64
	for i := range steps {
		s := &steps[i]
		w := weight(s)
		if w <= 0 {
			continue
		}
		out.FromS, out.ToS = math.Min(out.FromS, s.FromS), math.Max(out.ToS, s.ToS)
		out.Seconds += w
		out.OfferedEventsPerS += s.OfferedEventsPerS * w
		acked += s.AchievedEventsPerS * w
		sut += s.SUTCores * w
		harness += s.HarnessCores * w
		for _, sc := range s.Stages {
			cpuS[sc.Stage] += sc.Cores * w
			estimated[sc.Stage] = estimated[sc.Stage] || !sc.Exact
		}
	}
	if out.Seconds <= 0 {
		return nil
	}
	out.OfferedEventsPerS /= out.Seconds
	out.AchievedEventsPerS = acked / out.Seconds
	out.Stages = orderedStages(cpuS, estimated, out.Seconds)
	out.SUTCores, out.HarnessCores = sut/out.Seconds, harness/out.Seconds
	out.Cores = out.SUTCores + out.HarnessCores
	if acked > 0 {
		out.SUTMicrosPerEvent = sut * 1e6 / acked
	}
	return &out
}

// maxRateBins is the most bins of offered rate ByRate has.
const maxRateBins = 16

// minBinInterval is the shortest interval binned by rate (the partial
// last one is noise) when longer ones exist.
const minBinInterval = 1.0

// binByRate groups intervals into at most maxRateBins bins of equal width
// of offered rate (one bin when every offered rate is within 5% of the
// largest), ascending; empty bins are left out. Intervals shorter than
// minBinInterval and those with no offered rate (after the schedule's
// end, while a sender that fell behind sends its backlog) are left out
// when others exist: they are in Intervals.
func binByRate(intervals []CPUStep) []CPUStep {
	var use []CPUStep
	for _, s := range intervals {
		if s.Seconds >= minBinInterval && s.OfferedEventsPerS > 0 {
			use = append(use, s)
		}
	}
	if len(use) == 0 {
		use = intervals
	}
	if len(use) == 0 {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range use {
		lo, hi = math.Min(lo, s.OfferedEventsPerS), math.Max(hi, s.OfferedEventsPerS)
	}
	n := min(len(use), maxRateBins)
	if hi-lo <= 0.05*hi {
		n = 1
	}
	width := (hi - lo) / float64(n)
	bin := func(s *CPUStep) int {
		if width <= 0 {
			return 0
		}
		return min(int((s.OfferedEventsPerS-lo)/width), n-1)
	}
	var out []CPUStep
	for b := range n {
		if m := mergeSteps(use, func(s *CPUStep) float64 {
			if bin(s) == b {
				return s.Seconds
			}
			return 0
		}); m != nil {
			out = append(out, *m)
		}
	}
	return out
}

// Between is the CPU by stage over the intervals overlapping (from, to]
// (seconds from the traffic's start), weighted by the overlap; nil when
// none does.
func (c *CPU) Between(from, to float64) *CPUStep {
	if c == nil {
		return nil
	}
	return mergeSteps(c.Intervals, func(s *CPUStep) float64 { return math.Min(s.ToS, to) - math.Max(s.FromS, from) })
}

// Stage is the cores of the stage named name (0: not measured).
func (s *CPUStep) Stage(name string) float64 {
	for _, sc := range s.Stages {
		if sc.Stage == name {
			return sc.Cores
		}
	}
	return 0
}

// TopSUTStage is the system under test's stage with the most cores ("":
// none measured).
func (s *CPUStep) TopSUTStage() (string, float64) {
	best, cores := "", 0.0
	for _, sc := range s.Stages {
		if StageRole(sc.Stage) == RoleSUT && sc.Stage != HarnessProcess && sc.Cores > cores {
			best, cores = sc.Stage, sc.Cores
		}
	}
	return best, cores
}

// stepStages are the stages any of steps measured, in StageOrder.
func stepStages(steps []CPUStep) []string {
	seen := map[string]float64{}
	for _, s := range steps {
		for _, sc := range s.Stages {
			seen[sc.Stage] += sc.Cores
		}
	}
	out := orderedStages(seen, nil, 1)
	names := make([]string, len(out))
	for i, sc := range out {
		names[i] = sc.Stage
	}
	return names
}

// byRateTable is the table of CPU by stage against the offered rate: a
// row a bin.
func (c *CPU) byRateTable() htmlTable {
	var t htmlTable
	if len(c.ByRate) == 0 {
		return t
	}
	stages := stepStages(c.ByRate)
	t.Head = append([]string{"offered events/s", "achieved events/s", "seconds"}, stages...)
	t.Head = append(t.Head, "all cores", "SUT CPU-µs/event")
	for _, s := range c.ByRate {
		row := []string{fmt.Sprintf("%.0f", s.OfferedEventsPerS), fmt.Sprintf("%.0f", s.AchievedEventsPerS), fmt.Sprintf("%.0f", s.Seconds)}
		for _, n := range stages {
			row = append(row, fmt.Sprintf("%.3f", s.Stage(n)))
		}
		row = append(row, fmt.Sprintf("%.3f", s.Cores), fmt.Sprintf("%.1f", s.SUTMicrosPerEvent))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// byRateNote says how the table was made.
const byRateNote = "CPU cores of each stage against the offered rate: the traffic's intervals grouped by their offered rate (time-weighted means). Processes' CPU is exact (/proc); the countlab process's stages are its CPU split by its profile's samples in each interval (an estimate)."

// byRateMarkdown is report.md's table of CPU by stage against the offered
// rate.
func (c *CPU) byRateMarkdown(b *strings.Builder) {
	t := c.byRateTable()
	if len(t.Rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### CPU by stage against the offered rate\n\n%s\n\n", byRateNote)
	b.WriteString("| " + strings.Join(t.Head, " | ") + " |\n|" + strings.Repeat("---:|", len(t.Head)) + "\n")
	for _, row := range t.Rows {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
}
