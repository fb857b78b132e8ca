package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
)

// clockTicksPerS is USER_HZ, the unit of /proc/PID/stat's utime and
// stime: 100 on every Linux architecture Go runs on (sysconf(_SC_CLK_TCK)
// needs cgo, so it is assumed).
const clockTicksPerS = 100

// cpuMeter measures the CPU time of a stack's processes over the traffic:
// each process's utime+stime from /proc/PID/stat, sampled every second (a
// worker killed and restarted gets a new pid; both count), and the
// countlab process's split by stage from its CPU profile. One goroutine.
type cpuMeter struct {
	procs []resourceProc
	every time.Duration
	ticks func(pid int) (int64, error) // readCPUTicks; tests replace it
	log   *slog.Logger

	sampled bool
	first   map[string]map[int]int64 // ticks at a pid's first sample (0: it started in the span)
	last    map[string]map[int]int64
	pids    map[string][]int
	names   []string

	prof    *cpuProfile
	profErr error
	sink    prometheus.Gatherer
	sink0   sinkWrites
	start   time.Time
	notes   []string
}

// newCPUMeter is the meter of st's processes: those the resource sampler
// measures and a broker process.
func newCPUMeter(st *stack, log *slog.Logger) *cpuMeter {
	m := &cpuMeter{procs: newResourceSampler(st, log).procs, every: time.Second, ticks: readCPUTicks, log: log,
		first: map[string]map[int]int64{}, last: map[string]map[int]int64{}, pids: map[string][]int{}}
	if st.brokerProc != nil {
		m.procs = append(m.procs, resourceProc{name: "broker", pid: st.brokerProc.pid})
	}
	if st.sinkReg != nil {
		m.sink = st.sinkReg
	}
	if st.influxd == nil {
		m.notes = append(m.notes, "InfluxDB is external (--influx-url): its CPU is not measured")
	}
	if st.broker == nil && st.brokerProc == nil {
		m.notes = append(m.notes, "the Kafka cluster is external (--brokers): its CPU is not measured")
	}
	return m
}

// sample reads every process's CPU ticks.
func (m *cpuMeter) sample() {
	for _, p := range m.procs {
		pid := p.pid()
		if pid <= 0 {
			continue
		}
		t, err := m.ticks(pid)
		if err != nil {
			m.log.Debug("cpu sample", "process", p.name, "pid", pid, "err", err)
			continue
		}
		if m.last[p.name] == nil {
			m.first[p.name], m.last[p.name] = map[int]int64{}, map[int]int64{}
			m.names = append(m.names, p.name)
		}
		if _, ok := m.last[p.name][pid]; !ok {
			m.pids[p.name] = append(m.pids[p.name], pid)
			if !m.sampled {
				m.first[p.name][pid] = t
			}
		}
		m.last[p.name][pid] = t
	}
	m.sampled = true
}

// cpuS is the CPU seconds of each process over the samples.
func (m *cpuMeter) cpuS() []reports.ProcessCPUTime {
	var out []reports.ProcessCPUTime
	for _, name := range m.names {
		var ticks int64
		for pid, t := range m.last[name] {
			ticks += t - m.first[name][pid]
		}
		out = append(out, reports.ProcessCPUTime{Name: name, PIDs: m.pids[name], CPUS: float64(ticks) / clockTicksPerS})
	}
	return out
}

// startCPU measures st's processes from now (the traffic starts) until
// the returned stop, which computes the figures per event acknowledged by
// snd.
func startCPU(ctx context.Context, st *stack, snd *sim.Sender, log *slog.Logger) (stop func() *reports.CPU) {
	m := newCPUMeter(st, log)
	m.start = time.Now()
	m.prof, m.profErr = startCPUProfile()
	if m.sink != nil {
		m.sink0, _ = readSinkWrites(m.sink)
	}
	m.sample()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(m.every)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return func() *reports.CPU {
		cancel()
		<-done
		m.sample()
		return m.result(time.Since(m.start), snd.Progress().Acked)
	}
}

// result stops the profile and computes the figures.
func (m *cpuMeter) result(span time.Duration, acked int64) *reports.CPU {
	in := reports.CPUInput{WindowS: span.Seconds(), ClockTicksPerS: clockTicksPerS, Events: acked, Self: reports.HarnessProcess, Processes: m.cpuS()}
	if m.prof != nil {
		samples, err := m.prof.stop(reports.StageLabel)
		if err != nil {
			in.ProfileError = err.Error()
		}
		in.StageSamples = samples
	} else if m.profErr != nil {
		in.ProfileError = "no CPU profile of the countlab process: " + m.profErr.Error()
	}
	if m.sink != nil {
		if w, ok := readSinkWrites(m.sink); ok {
			in.TotalsWritten, in.PointsWritten = int64(w.totals-m.sink0.totals), int64(w.points-m.sink0.points)
		}
	}
	in.Notes = append(m.notes, "measured over the traffic only: totals still in flight at its end are written in the drain, after the span")
	return reports.NewCPU(in)
}

// sinkWrites are the sink's counters of totals read and points written.
type sinkWrites struct{ totals, points float64 }

// readSinkWrites reads them from the sink's registry.
func readSinkWrites(g prometheus.Gatherer) (sinkWrites, bool) {
	mfs, err := g.Gather()
	if err != nil {
		return sinkWrites{}, false
	}
	var w sinkWrites
	for _, mf := range mfs {
		var dst *float64
		switch mf.GetName() {
		case "countlab_sink_totals_consumed_total":
			dst = &w.totals
		case "countlab_sink_points_written_total":
			dst = &w.points
		default:
			continue
		}
		for _, mt := range mf.GetMetric() {
			*dst += mt.GetCounter().GetValue()
		}
	}
	return w, true
}

// readCPUTicks is a process's utime+stime in clock ticks, from
// /proc/PID/stat (Linux).
func readCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

// parseProcStat is utime+stime (fields 14 and 15) of a /proc/PID/stat
// line. The command name (field 2, in parentheses) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseProcStat(b []byte) (int64, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: %q: no ')' after the command", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command, want at least 13", len(f))
	}
	var sum int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: utime/stime: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// printCPU prints the run's CPU summary line.
func printCPU(w interface{ Write([]byte) (int, error) }, c *reports.CPU) {
	if c != nil {
		fmt.Fprintf(w, "  cpu: %s\n", c.Text())
	}
}
