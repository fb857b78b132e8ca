package reports

import (
	"strings"
	"testing"
	"time"
)

func TestPhases(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var samples []ProbeSample
	for i := range 30 {
		lag, ack := 100.0, 5.0
		if i >= 10 && i < 15 { // the fault: 10s..15s
			lag, ack = 50000, 900
		}
		if i >= 15 && i < 18 { // recovering
			lag = 5000
		}
		samples = append(samples, ProbeSample{T: t0.Add(time.Duration(i) * time.Second), Values: map[string]float64{
			ProbeEngineLag: lag, ProbeIngestAckP99: ack, ProbeIngestErrorShare: 0, ProbeAchieved: 1000}})
	}
	ss := CheckSteadyState(samples, t0.Add(5*time.Second), t0.Add(10*time.Second), []Bound{{Probe: ProbeEngineLag, Kind: "max", Limit: 1000}})
	if !ss.Pass || len(ss.Checks) != 1 || ss.Checks[0].Value != 100 {
		t.Fatalf("steady state %+v", ss)
	}
	if ss := CheckSteadyState(samples, t0.Add(8*time.Second), t0.Add(12*time.Second), []Bound{{Probe: ProbeEngineLag, Kind: "max", Limit: 1000}}); ss.Pass ||
		!strings.Contains(ss.Failed(), "engine_lag_records 50000 (bound 1000)") {
		t.Fatalf("steady state over the fault %+v", ss)
	}
	r := sample()
	r.EvaluateSLO(Thresholds{})
	r.EvaluatePhases(samples, []FaultWindow{{Name: "f", Kind: "sink-outage", Injected: t0.Add(10 * time.Second), Healed: t0.Add(15 * time.Second), RecoveryS: 3}},
		5*time.Second, []PhaseBound{
			{Bound: Bound{Probe: ProbeIngestAckP99, Kind: "max", Limit: 1000}, Phase: "during"},
			{Bound: Bound{Probe: ProbeEngineLag, Kind: "max", Limit: 1000}, Phase: "after"},
		})
	if len(r.FaultPhases) != 1 || len(r.FaultPhases[0].Phases) != 3 {
		t.Fatalf("phases %+v", r.FaultPhases)
	}
	ph := r.FaultPhases[0].Phases
	if ph[0].Worst[ProbeEngineLag] != 100 || ph[1].Worst[ProbeEngineLag] != 50000 || ph[2].Worst[ProbeEngineLag] != 5000 {
		t.Fatalf("worst lag by phase %v %v %v", ph[0].Worst, ph[1].Worst, ph[2].Worst)
	}
	if !ph[1].SLO[0].Pass || ph[2].SLO[0].Pass {
		t.Fatalf("phase SLOs during %+v after %+v", ph[1].SLO, ph[2].SLO)
	}
	if got := strings.Join(r.Failed(), ";"); !strings.Contains(got, "f after engine_lag_records: 5000 (threshold 1000)") {
		t.Fatalf("failed %q", got)
	}
	md := r.Markdown()
	for _, want := range []string{"## Fault phases", "| f (sink-outage) | 3.0 | after | 5000 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
