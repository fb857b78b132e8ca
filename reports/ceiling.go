package reports

import (
	"fmt"
	"strings"
)

// The ceiling: the highest sustainable rate (Sustainable) and the stage
// that limits it, named from what the run measured at the window where
// the rate stopped being sustainable (the break window: BrokeAtS minus
// WindowS to BrokeAtS).

// ceilingSlackS is how long after the break window a saturation rule's
// crossing still counts as the break's cause: the lag rules need GrowFor
// growing samples, so they cross a few seconds after freshness or lag
// broke the window.
const ceilingSlackS = 10

// ceilingNear is the least mean relative value (1 = the threshold) of a
// saturation signal over the break window that names its stage when no
// rule crossed.
const ceilingNear = 0.5

// Attribute names the stage that limits s (LimitingStage, LimitingSignal,
// LimitingEvidence) and fills CPUAtBreak, from the saturation signals and
// the CPU by stage over the break window. In order:
//
//  1. a saturation rule that crossed from one window before the break
//     window until ceilingSlackS after it: the earliest (at the same
//     second the one furthest downstream, as EvaluateSaturation);
//  2. else the signal nearest its threshold over the break window (the
//     highest mean of value / threshold), when at least ceilingNear;
//  3. else, when the machine was CPU-bound over the break window (its
//     busy share, Saturation.MachineBusy, at least cpuBound on average;
//     not measured: taken as bound), the system under test's stage with
//     the most CPU (signal "cpu": no stage showed a backlog, so the stage
//     doing the most work is named, with the cores measured beside);
//  4. else no stage: LimitingEvidence says the limit is outside what the
//     run measured (the machine had cores to spare and no stage backed
//     up).
//
// Without a break window (the offered load never went past the
// sustainable rate) it does nothing.
func (s *Sustainable) Attribute(sat *Saturation, cpu *CPU) {
	if s == nil || s.BrokeAtS < 0 {
		return
	}
	from, to := s.BrokeAtS-float64(s.WindowS), s.BrokeAtS
	s.CPUAtBreak = cpu.Between(from, to)
	if sat != nil {
		if s.crossedNear(sat, from, to) || s.nearestSignal(sat, from, to) {
			return
		}
	}
	st := s.CPUAtBreak
	if st == nil {
		return
	}
	if busy, ok := s.machineBusy(sat, from, to); ok && busy < cpuBound {
		s.LimitingStage, s.LimitingSignal = "", ""
		s.LimitingEvidence = fmt.Sprintf("no saturation signal near its threshold, and the machine was not CPU-bound (%.0f%% busy; the run's processes %.2f cores: %s): the limit is outside what the run measures (the sender's pacing, a fault, the network, a system it does not see)",
			100*busy, st.Cores, stepCoresText(st))
		return
	}
	if stage, cores := st.TopSUTStage(); stage != "" {
		s.LimitingStage, s.LimitingSignal = stage, "cpu"
		s.LimitingEvidence = fmt.Sprintf("no saturation signal near its threshold; %s used the most CPU of the system under test, %.2f cores of %.2f measured (%s)",
			stage, cores, st.Cores, stepCoresText(st))
	}
}

// cpuBound is the least mean busy share of the machine over the break
// window for rule 3 of Attribute to name a stage by its CPU.
const cpuBound = 0.8

// machineBusy is the machine's mean busy share over the samples in
// (from, to] (seconds from the traffic's start); false without one.
func (s *Sustainable) machineBusy(sat *Saturation, from, to float64) (float64, bool) {
	if sat == nil {
		return 0, false
	}
	sum, n := 0.0, 0
	for _, p := range sat.MachineBusy {
		if at := p.T.Sub(s.start).Seconds(); at > from && at <= to {
			sum += p.V
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// crossedNear is rule 1 of Attribute.
func (s *Sustainable) crossedNear(sat *Saturation, from, to float64) bool {
	var best *SaturationSignal
	for i := range sat.Signals {
		g := &sat.Signals[i]
		if !g.Crossed || g.CrossedAtS < from-float64(s.WindowS) || g.CrossedAtS > to+ceilingSlackS {
			continue
		}
		if best == nil || g.CrossedAtS < best.CrossedAtS || g.CrossedAtS == best.CrossedAtS && stageRank[g.Stage] < stageRank[best.Stage] {
			best = g
		}
	}
	if best == nil {
		return false
	}
	s.LimitingStage, s.LimitingSignal = best.Stage, best.Signal
	s.LimitingEvidence = fmt.Sprintf("its saturation rule crossed at %.0f s (%s: %s %s)", best.CrossedAtS, best.Rule, num(best.Value), best.Unit)
	s.addCPUEvidence()
	return true
}

// nearestSignal is rule 2 of Attribute: Saturation.Series are each
// signal relative to its threshold, named "<stage> <signal>".
func (s *Sustainable) nearestSignal(sat *Saturation, from, to float64) bool {
	bestV, bestName := 0.0, ""
	for _, ser := range sat.Series {
		var sum float64
		n := 0
		for _, p := range ser.Points {
			if at := p.T.Sub(s.start).Seconds(); at > from && at <= to {
				sum += p.V
				n++
			}
		}
		if n > 0 && sum/float64(n) > bestV {
			bestV, bestName = sum/float64(n), ser.Name
		}
	}
	if bestV < ceilingNear {
		return false
	}
	stage, signal, _ := strings.Cut(bestName, " ")
	s.LimitingStage, s.LimitingSignal = stage, signal
	s.LimitingEvidence = fmt.Sprintf("no saturation rule crossed; %s was the signal nearest its threshold over the window that broke (%.2f× on average)", bestName, bestV)
	s.addCPUEvidence()
	return true
}

// addCPUEvidence adds the CPU by stage at the break to the evidence.
func (s *Sustainable) addCPUEvidence() {
	if st := s.CPUAtBreak; st != nil {
		s.LimitingEvidence += fmt.Sprintf("; CPU then %.2f cores measured (%s)", st.Cores, stepCoresText(st))
	}
}

// stepCoresText is a step's stages with their cores, largest first.
func stepCoresText(st *CPUStep) string {
	parts := make([]string, 0, len(st.Stages))
	used := make([]bool, len(st.Stages))
	for range st.Stages {
		k := -1
		for i, sc := range st.Stages {
			if !used[i] && (k < 0 || sc.Cores > st.Stages[k].Cores) {
				k = i
			}
		}
		used[k] = true
		parts = append(parts, fmt.Sprintf("%s %.2f", st.Stages[k].Stage, st.Stages[k].Cores))
	}
	return strings.Join(parts, ", ")
}

// CeilingText is the summary line of the ceiling ("" without one).
func (s *Sustainable) CeilingText() string {
	if s == nil {
		return ""
	}
	rate := "none"
	if s.AtS >= 0 {
		rate = fmt.Sprintf("%.0f events/s", s.EventsPerS)
	}
	switch {
	case s.LimitingStage != "":
		return fmt.Sprintf("highest sustainable rate %s (lag <= %.0f s, freshness p99 <= %.0f ms), limited by %s (%s)", rate, s.MaxLagS, s.MaxFreshnessMS, s.LimitingStage, s.LimitingSignal)
	case s.BrokeAtS < 0 && s.AtS >= 0:
		return fmt.Sprintf("highest sustainable rate %s (lag <= %.0f s, freshness p99 <= %.0f ms): the offered load never went past it", rate, s.MaxLagS, s.MaxFreshnessMS)
	case s.LimitingEvidence != "" && s.CPUAtBreak != nil: // Attribute's rule 4
		return fmt.Sprintf("highest sustainable rate %s (lag <= %.0f s, freshness p99 <= %.0f ms), limiting stage not found: no stage backed up and the machine was not CPU-bound",
			rate, s.MaxLagS, s.MaxFreshnessMS)
	}
	return fmt.Sprintf("highest sustainable rate %s (lag <= %.0f s, freshness p99 <= %.0f ms), limiting stage not found", rate, s.MaxLagS, s.MaxFreshnessMS)
}

// ceilingRows are the ceiling's table rows (report.md and report.html).
func (s *Sustainable) ceilingRows() [][2]string {
	if s == nil {
		return nil
	}
	rate := "none"
	if s.AtS >= 0 {
		rate = fmt.Sprintf("%.0f events/s (offered %.0f; the %d s ending at %.0f s; freshness p99 %s ms, lag %s s)",
			s.EventsPerS, s.OfferedEventsPerS, s.WindowS, s.AtS, orDash(s.FreshnessP99MS, "%.0f"), orDash(s.LagS, "%.2f"))
	}
	rows := [][2]string{
		{"highest sustainable rate", rate},
		{"bounds", fmt.Sprintf("answered (acknowledged or refused by the contract) >= 95%% of offered, lag <= %.0f s of input, freshness p99 <= %.0f ms, over %d s", s.MaxLagS, s.MaxFreshnessMS, s.WindowS)},
	}
	if s.BrokeAtS < 0 {
		return append(rows, [2]string{"broke", "never: the offered load never went past the sustainable rate"})
	}
	rows = append(rows, [2]string{"broke", fmt.Sprintf("%s, in the %d s ending at %.0f s (offered %.0f events/s)", s.LimitedBy, s.WindowS, s.BrokeAtS, s.BrokeOfferedEventsPerS)})
	lim := "not found"
	if s.LimitingStage != "" {
		lim = s.LimitingStage + " (" + s.LimitingSignal + ")"
	}
	rows = append(rows, [2]string{"limiting stage", lim})
	if s.LimitingEvidence != "" {
		rows = append(rows, [2]string{"why", s.LimitingEvidence})
	}
	if st := s.CPUAtBreak; st != nil {
		rows = append(rows, [2]string{"CPU at the break", fmt.Sprintf("%.2f cores (system under test %.2f, harness %.2f): %s", st.Cores, st.SUTCores, st.HarnessCores, stepCoresText(st))})
	}
	return rows
}

// ceilingMarkdown is report.md's ceiling table.
func (s *Sustainable) ceilingMarkdown(b *strings.Builder) {
	rows := s.ceilingRows()
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n### Ceiling\n\n| | |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
	}
}
