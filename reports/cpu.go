package reports

import (
	"fmt"
	"sort"
	"strings"
)

// Stage names of the in-process parts of the countlab process, as its
// goroutines are labelled (runtime/pprof label StageLabel) and as CPU
// attributes its profile samples.
const (
	// StageLabel is the pprof label key of a goroutine's stage.
	StageLabel = "countlab_stage"
	// StageHarness is the simulator: generator, sender, query load,
	// probes and samplers.
	StageHarness = "harness"
	// StageNetProxy is the fault proxies (network faults): harness too.
	StageNetProxy = "netproxy"
	// StageQuery is the query service; it, StageBroker, StageEngine,
	// StageSink and StageGateway (saturation.go) are the system under
	// test's parts when they run in-process.
	StageQuery = "query"
	// StageUnlabelled is the samples without a stage: the runtime's own
	// work (GC background marking, the scavenger, the scheduler and
	// network poller) and goroutines started before the labels were set
	// (a 6 s ci-smoke profile had only the runtime's).
	StageUnlabelled = "unlabelled"
)

// CPU roles of processes and stages.
const (
	RoleSUT        = "sut"
	RoleHarness    = "harness"
	RoleUnlabelled = "unlabelled"
	// RoleMixed is the countlab process's: split by its stages.
	RoleMixed = "mixed"
)

// StageRole is the role of a stage: harness (StageHarness, StageNetProxy),
// unlabelled, or the system under test (every other stage).
func StageRole(stage string) string {
	switch stage {
	case StageHarness, StageNetProxy:
		return RoleHarness
	case StageUnlabelled:
		return RoleUnlabelled
	}
	return RoleSUT
}

// CPU is the CPU time the run's processes used over the traffic's span,
// per process (/proc/PID/stat) and per stage inside the countlab process
// (a CPU profile's samples by the goroutines' stage label), and what it
// costs per event.
type CPU struct {
	// WindowS is the measured span (the traffic's start to its end), in
	// seconds; cores are CPU seconds over it.
	WindowS float64 `json:"window_s"`
	// ClockTicksPerS is the unit of /proc/PID/stat's utime and stime
	// (USER_HZ: 100 on Linux; assumed, not read with sysconf).
	ClockTicksPerS int `json:"clock_ticks_per_s"`
	// Events is the events acknowledged in the span: the "per event"
	// divisor.
	Events    int64        `json:"events"`
	Processes []ProcessCPU `json:"processes"`
	// Stages split the countlab process (empty: no profile, see
	// ProfileError): its CPU seconds times each stage's share of the
	// profile's samples.
	Stages         []StageCPU `json:"stages,omitempty"`
	ProfileSamples int64      `json:"profile_samples"`
	ProfileError   string     `json:"profile_error,omitempty"`
	// SUT is the system under test end to end: the engine worker,
	// influxd and broker processes and the countlab process's SUT stages,
	// with its unlabelled samples split between SUT and harness in
	// proportion to their labelled ones. Harness is the rest of the
	// countlab process (generator, sender, probes, fault proxies).
	SUT     CPUCost `json:"system_under_test"`
	Harness CPUCost `json:"harness"`
	// HarnessShare is the harness's share of all the CPU measured.
	HarnessShare float64 `json:"harness_share"`
	// EventsPerCoreS is events per CPU second of the system under test.
	EventsPerCoreS float64 `json:"events_per_core_s"`
	// TotalsWritten is the window totals the engine wrote to the
	// aggregates topic (as the sink read them) and PointsWritten the
	// points InfluxDB acknowledged to the sink, over the span; per event
	// divided by Events.
	TotalsWritten  int64   `json:"totals_written"`
	PointsWritten  int64   `json:"points_written"`
	TotalsPerEvent float64 `json:"totals_per_event"`
	PointsPerEvent float64 `json:"points_per_event"`
	// Intervals are the CPU by stage over each interval of the traffic
	// and ByRate over the intervals grouped by their offered rate
	// (cpusteps.go says what is exact and what estimated); empty when
	// the probes measured no intervals.
	Intervals []CPUStep `json:"intervals,omitempty"`
	ByRate    []CPUStep `json:"by_offered_rate,omitempty"`
	// Notes say what the figures leave out.
	Notes []string `json:"notes,omitempty"`
}

// CPUCost is CPU seconds over the span, as cores and per event.
type CPUCost struct {
	CPUS float64 `json:"cpu_s"`
	// Cores is CPUS over the span.
	Cores float64 `json:"cores"`
	// MicrosPerEvent is CPU microseconds per acknowledged event.
	MicrosPerEvent float64 `json:"cpu_us_per_event"`
}

// ProcessCPU is one process's CPU (utime + stime) over the span.
type ProcessCPU struct {
	// Name: "countlab", "engine-N", "influxd", "broker".
	Name string `json:"name"`
	// PIDs are the process ids measured (a restarted process has more
	// than one; CPU of a pid killed between samples is counted up to its
	// last sample).
	PIDs []int `json:"pids"`
	// Role is sut, or mixed for the countlab process (split by Stages).
	Role string `json:"role"`
	CPUCost
}

// StageCPU is one stage's part of the countlab process's CPU.
type StageCPU struct {
	Name    string  `json:"name"`
	Role    string  `json:"role"`
	Samples int64   `json:"samples"`
	Share   float64 `json:"share"`
	CPUCost
}

// ProcessCPUTime is what was measured of one process, for NewCPU.
type ProcessCPUTime struct {
	Name string
	PIDs []int
	CPUS float64
}

// CPUInput is what NewCPU computes the figures from.
type CPUInput struct {
	WindowS        float64
	ClockTicksPerS int
	Events         int64
	// Self is the countlab process's name in Processes (split by
	// StageSamples); every other process is the system under test.
	Self      string
	Processes []ProcessCPUTime
	// StageSamples is the profile's samples by stage (nil: no profile).
	StageSamples  map[string]int64
	ProfileError  string
	TotalsWritten int64
	PointsWritten int64
	// Intervals are the CPU over each interval of the span, in time
	// order (cpusteps.go).
	Intervals []CPUInterval
	Notes     []string
}

// NewCPU computes the figures of in.
func NewCPU(in CPUInput) *CPU {
	c := &CPU{WindowS: in.WindowS, ClockTicksPerS: in.ClockTicksPerS, Events: in.Events, ProfileError: in.ProfileError,
		TotalsWritten: in.TotalsWritten, PointsWritten: in.PointsWritten, Notes: in.Notes}
	cost := func(s float64) CPUCost { return c.cost(s) }
	var sut, harness float64
	for _, p := range in.Processes {
		pc := ProcessCPU{Name: p.Name, PIDs: p.PIDs, Role: RoleSUT, CPUCost: cost(p.CPUS)}
		if p.Name != in.Self {
			sut += p.CPUS
			c.Processes = append(c.Processes, pc)
			continue
		}
		pc.Role = RoleMixed
		c.Processes = append(c.Processes, pc)
		s, h := c.splitSelf(p.CPUS, in.StageSamples)
		sut, harness = sut+s, harness+h
	}
	c.SUT, c.Harness = cost(sut), cost(harness)
	if all := sut + harness; all > 0 {
		c.HarnessShare = harness / all
	}
	if sut > 0 {
		c.EventsPerCoreS = float64(in.Events) / sut
	}
	if in.Events > 0 {
		c.TotalsPerEvent = float64(in.TotalsWritten) / float64(in.Events)
		c.PointsPerEvent = float64(in.PointsWritten) / float64(in.Events)
	}
	for _, iv := range in.Intervals {
		c.Intervals = append(c.Intervals, newStep(iv, in.Self))
	}
	c.ByRate = binByRate(c.Intervals)
	return c
}

// splitSelf fills c.Stages from the countlab process's cpuS and the
// profile's samples, and returns its SUT and harness parts (unlabelled
// samples split between them as their labelled ones are). Without samples
// the whole process counts as the system under test.
func (c *CPU) splitSelf(cpuS float64, samples map[string]int64) (sut, harness float64) {
	var total, sutN, harnessN int64
	for st, n := range samples {
		total += n
		switch StageRole(st) {
		case RoleSUT:
			sutN += n
		case RoleHarness:
			harnessN += n
		}
	}
	c.ProfileSamples = total
	if total == 0 {
		c.Notes = append(c.Notes, "no CPU profile samples: the countlab process counts whole as the system under test")
		return cpuS, 0
	}
	names := make([]string, 0, len(samples))
	for st := range samples {
		names = append(names, st)
	}
	sort.Slice(names, func(i, j int) bool {
		return samples[names[i]] > samples[names[j]] || samples[names[i]] == samples[names[j]] && names[i] < names[j]
	})
	for _, st := range names {
		share := float64(samples[st]) / float64(total)
		c.Stages = append(c.Stages, StageCPU{Name: st, Role: StageRole(st), Samples: samples[st], Share: share, CPUCost: c.cost(share * cpuS)})
	}
	unl := float64(total-sutN-harnessN) / float64(total) * cpuS
	sut, harness = float64(sutN)/float64(total)*cpuS, float64(harnessN)/float64(total)*cpuS
	if lab := sutN + harnessN; lab > 0 {
		sut += unl * float64(sutN) / float64(lab)
		harness += unl * float64(harnessN) / float64(lab)
	} else {
		sut += unl
	}
	return sut, harness
}

func (c *CPU) cost(s float64) CPUCost {
	cc := CPUCost{CPUS: s}
	if c.WindowS > 0 {
		cc.Cores = s / c.WindowS
	}
	if c.Events > 0 {
		cc.MicrosPerEvent = s * 1e6 / float64(c.Events)
	}
	return cc
}

// Stage is the stage named name (nil: not measured).
func (c *CPU) Stage(name string) *StageCPU {
	for i := range c.Stages {
		if c.Stages[i].Name == name {
			return &c.Stages[i]
		}
	}
	return nil
}

// EngineCores is the engine's cores: its worker processes' and, in
// process, the engine stage's.
func (c *CPU) EngineCores() float64 {
	var cores float64
	for _, p := range c.Processes {
		if strings.HasPrefix(p.Name, "engine-") {
			cores += p.Cores
		}
	}
	if s := c.Stage(StageEngine); s != nil {
		cores += s.Cores
	}
	return cores
}

// Text is the one-line summary printed after a run.
func (c *CPU) Text() string {
	return fmt.Sprintf("system under test %.2f cores (%.1f CPU-µs/event, %.0f events/core-s), harness %.2f cores (%.0f%%), %.2f totals and %.2f points written per event",
		c.SUT.Cores, c.SUT.MicrosPerEvent, c.EventsPerCoreS, c.Harness.Cores, 100*c.HarnessShare, c.TotalsPerEvent, c.PointsPerEvent)
}

// rows are the CPU table's rows: processes, then the countlab process's
// stages, then the totals.
func (c *CPU) rows() [][]string {
	f := func(v float64, p int) string { return fmt.Sprintf("%.*f", p, v) }
	row := func(what, role string, cc CPUCost, share string) []string {
		return []string{what, role, f(cc.CPUS, 2), f(cc.Cores, 3), f(cc.MicrosPerEvent, 1), share}
	}
	var out [][]string
	for _, p := range c.Processes {
		pids := make([]string, len(p.PIDs))
		for i, id := range p.PIDs {
			pids[i] = fmt.Sprint(id)
		}
		out = append(out, row(fmt.Sprintf("process %s (pid %s)", p.Name, strings.Join(pids, ",")), p.Role, p.CPUCost, ""))
		if p.Role != RoleSUT { // the countlab process: its stages follow it
			for _, s := range c.Stages {
				out = append(out, row("  stage "+s.Name, s.Role, s.CPUCost, fmt.Sprintf("%.1f%% (%d of %d samples)", 100*s.Share, s.Samples, c.ProfileSamples)))
			}
		}
	}
	out = append(out, row("system under test (end to end)", RoleSUT, c.SUT, ""), row("harness", RoleHarness, c.Harness, fmt.Sprintf("%.1f%% of all", 100*c.HarnessShare)))
	return out
}

var cpuHead = []string{"what", "role", "CPU s", "cores", "CPU-µs/event", "share"}

// cpuMarkdown is report.md's CPU section.
func (r *Report) cpuMarkdown(b *strings.Builder) {
	c := r.CPU
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\n## CPU\n\nCPU time (utime+stime from /proc) over the %.1f s of traffic, %d events acknowledged; the countlab process split by a CPU profile's samples per stage. %.0f events per core-second of the system under test; %.2f totals and %.2f points written per event.\n\n",
		c.WindowS, c.Events, c.EventsPerCoreS, c.TotalsPerEvent, c.PointsPerEvent)
	b.WriteString("| " + strings.Join(cpuHead, " | ") + " |\n|---|---|---:|---:|---:|---:|\n")
	for _, row := range c.rows() {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	for _, n := range append(c.Notes, c.ProfileError) {
		if n != "" {
			fmt.Fprintf(b, "\nNote: %s\n", n)
		}
	}
	c.byRateMarkdown(b) // cpusteps.go
}

// cpuHTML fills v's CPU tables and the chart of CPU by stage against the
// offered rate.
func (r *Report) cpuHTML(v *htmlView) error {
	if r.CPU == nil {
		return nil
	}
	v.CPU.Head = cpuHead
	v.CPU.Rows = r.CPU.rows()
	v.CPUByRate, v.CPUByRateNote = r.CPU.byRateTable(), byRateNote
	if len(r.CPU.ByRate) == 0 {
		return nil
	}
	png, err := CPUByRateChart(r.CPU.ByRate)
	if err != nil {
		return fmt.Errorf("cpu by stage chart: %w", err)
	}
	c := pngChart("CPU by stage against the offered rate", png)
	v.CPUChart = &c
	return nil
}
