package probe

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/countlab/countlab/harness/stack"
	"github.com/countlab/countlab/reports"
	"github.com/countlab/countlab/sim"
)

// clockTicksPerS is USER_HZ, the unit of /proc/PID/stat's utime and
// stime: 100 on every Linux architecture Go runs on (sysconf(_SC_CLK_TCK)
// needs cgo, so it is assumed).
const clockTicksPerS = 100

// cpuInterval is how long one interval of the CPU by stage over time is
// (reports.CPUInterval): the countlab process's CPU profile is stopped
// and started again at each interval's end.
const cpuInterval = 5 * time.Second

// cpuMeter measures the CPU time of a stack's processes over the traffic:
// each process's utime+stime from /proc/PID/stat, on every tick (a
// worker killed and restarted gets a new pid; both count), and the
// countlab process's split by stage from its CPU profile; and the same
// over each cpuInterval of the traffic (reports.CPUInterval, whose doc
// says what is exact and what estimated). The profile is cut into one
// per interval: runtime/pprof's samples carry no time, so a profile's
// split is only known over the whole of it.
type cpuMeter struct {
	procs []stack.Process
	rate  sim.Rate
	dur   time.Duration

	sampled bool
	first   map[string]map[int]int64 // ticks at a pid's first sample (0: it started in the span)
	last    map[string]map[int]int64
	pids    map[string][]int
	names   []string

	prof    *cpuProfile
	profErr error
	// profDir, when set (COUNTLAB_CPUPROFILE_DIR), keeps every
	// interval's profile there as cpu-NNN.pb.gz, for go tool pprof.
	profDir string
	profN   int
	stopErr error // the first profile that could not be read
	// samples are the stage samples of the profiles stopped so far.
	samples map[string]int64
	sink    prometheus.Gatherer
	sink0   sinkWrites
	start   time.Time
	notes   []string

	// The open interval: its start, each process's ticks and the events
	// acknowledged then; the intervals closed.
	ivStart   time.Time
	ivTicks   map[string]int64
	ivAcked   int64
	intervals []reports.CPUInterval
}

// newCPUMeter is the meter of src's processes under the offered rate
// over dur (nil rate: offered rates of 0).
func newCPUMeter(src Sources, rate sim.Rate, dur time.Duration) *cpuMeter {
	return &cpuMeter{procs: src.Processes, sink: src.Sink, notes: src.Notes, rate: rate, dur: dur,
		first: map[string]map[int]int64{}, last: map[string]map[int]int64{}, pids: map[string][]int{}, samples: map[string]int64{},
		profDir: os.Getenv(ProfileDirEnv)}
}

// ProfileDirEnv names the environment variable that keeps the countlab
// process's CPU profiles of a run: each interval's profile is written to
// that directory as cpu-NNN.pb.gz (merge them with go tool pprof).
const ProfileDirEnv = "COUNTLAB_CPUPROFILE_DIR"

// saveProfile writes the stopped profile to profDir, when set; a failure
// is a note, never the run's.
func (m *cpuMeter) saveProfile() {
	if m.profDir == "" {
		return
	}
	m.profN++
	name := filepath.Join(m.profDir, fmt.Sprintf("cpu-%03d.pb.gz", m.profN))
	err := os.MkdirAll(m.profDir, 0o755)
	if err == nil {
		err = os.WriteFile(name, m.prof.buf.Bytes(), 0o644)
	}
	if err != nil && m.profN == 1 {
		m.notes = append(m.notes, fmt.Sprintf("%s: %v", ProfileDirEnv, err))
	}
}

// begin starts the CPU profile at now (the traffic's start).
func (m *cpuMeter) begin(now time.Time) {
	m.start, m.ivStart = now, now
	m.prof, m.profErr = startCPUProfile()
	if m.sink != nil {
		m.sink0, _ = readSinkWrites(m.sink)
	}
}

// due reports whether the open interval ends at the reading taken at now
// (Probes.read then rotates the profile as close to the /proc reads as it
// can).
func (m *cpuMeter) due(now time.Time) bool { return m.sampled && now.Sub(m.ivStart) >= cpuInterval }

// rotate stops the profile and starts the next one: the stopped one's
// samples by stage (nil: no profile ran).
func (m *cpuMeter) rotate(final bool) (map[string]int64, error) {
	if m.prof == nil {
		return nil, nil
	}
	samples, err := m.prof.stop(reports.StageLabel)
	m.saveProfile()
	m.prof = nil
	if err != nil && m.stopErr == nil {
		m.stopErr = err
	}
	for st, n := range samples {
		m.samples[st] += n
	}
	if !final {
		m.prof, m.profErr = startCPUProfile()
	}
	return samples, err
}

// ticksNow are each process's ticks over the span so far.
func (m *cpuMeter) ticksNow() map[string]int64 {
	out := make(map[string]int64, len(m.names))
	for _, name := range m.names {
		for pid, t := range m.last[name] {
			out[name] += t - m.first[name][pid]
		}
	}
	return out
}

// closeInterval ends the open interval at r (after r's ticks are in),
// with the profile samples over it.
func (m *cpuMeter) closeInterval(r *reading, samples map[string]int64) {
	ticks := m.ticksNow()
	a, b := m.ivStart.Sub(m.start), r.now.Sub(m.start)
	iv := reports.CPUInterval{FromS: a.Seconds(), ToS: b.Seconds(), StageSamples: samples}
	if b > a {
		iv.AchievedEventsPerS = float64(r.prog.Acked-m.ivAcked) / (b - a).Seconds()
		if m.rate != nil {
			iv.OfferedEventsPerS = MeanRate(m.rate, m.dur, a, b)
		}
	}
	for _, name := range m.names {
		iv.Processes = append(iv.Processes, reports.ProcessCPUTime{Name: name, CPUS: float64(ticks[name]-m.ivTicks[name]) / clockTicksPerS})
	}
	m.intervals = append(m.intervals, iv)
	m.ivStart, m.ivTicks, m.ivAcked = r.now, ticks, r.prog.Acked
}

// sample adds one reading's CPU ticks of every process.
func (m *cpuMeter) sample(r *reading) {
	for i, p := range m.procs {
		pr := r.procs[i]
		if !pr.statOK {
			continue
		}
		pid, t := pr.pid, pr.stat.ticks
		if m.last[p.Name] == nil {
			m.first[p.Name], m.last[p.Name] = map[int]int64{}, map[int]int64{}
			m.names = append(m.names, p.Name)
		}
		if _, ok := m.last[p.Name][pid]; !ok {
			m.pids[p.Name] = append(m.pids[p.Name], pid)
			if !m.sampled {
				m.first[p.Name][pid] = t
			}
		}
		m.last[p.Name][pid] = t
	}
	if !m.sampled {
		m.ivTicks, m.ivAcked = m.ticksNow(), r.prog.Acked
	}
	m.sampled = true
	if r.rotated {
		m.closeInterval(r, r.samples)
	}
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

// result stops the profile and computes the figures per event acked,
// over the span from begin to end.
func (m *cpuMeter) result(end time.Time, acked int64) *reports.CPU {
	span := end.Sub(m.start)
	in := reports.CPUInput{WindowS: span.Seconds(), ClockTicksPerS: clockTicksPerS, Events: acked, Self: reports.HarnessProcess, Processes: m.cpuS()}
	switch {
	case m.profErr != nil:
		in.ProfileError = "no CPU profile of the countlab process (over all or part of the span): " + m.profErr.Error()
	case m.prof != nil: // not rotated at the last reading (Probes.Stop rotates)
		m.rotate(true)
	}
	if m.stopErr != nil && in.ProfileError == "" {
		in.ProfileError = m.stopErr.Error()
	}
	if len(m.samples) > 0 {
		in.StageSamples = m.samples
	}
	in.Intervals = m.intervals
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

// procStat is what one read of /proc/PID/stat tells of a process.
type procStat struct {
	ticks    int64 // utime+stime, clock ticks
	rssBytes int64 // resident set size
}

// readProcStat reads /proc/PID/stat (Linux): CPU time and resident
// memory in one read.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(b, os.Getpagesize())
}

// parseProcStat is utime+stime (fields 14 and 15) and the resident pages
// (field 24) of a /proc/PID/stat line. The command name (field 2, in
// parentheses) may hold spaces and parentheses, so fields are counted
// after its last ')'.
func parseProcStat(b []byte, pageSize int) (procStat, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc stat: %q: no ')' after the command", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc stat: %d fields after the command, want at least 22", len(f))
	}
	var st procStat
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("/proc stat: utime/stime: %w", err)
		}
		st.ticks += n
	}
	pages, err := strconv.ParseInt(f[21], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc stat: rss: %w", err)
	}
	st.rssBytes = pages * int64(pageSize)
	return st, nil
}

// PrintCPU prints the run's CPU summary line.
func PrintCPU(w interface{ Write([]byte) (int, error) }, c *reports.CPU) {
	if c != nil {
		fmt.Fprintf(w, "  cpu: %s\n", c.Text())
	}
}
