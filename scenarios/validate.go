package scenarios

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/countlab/countlab/engine/aggregate"
	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/faults"
	"github.com/countlab/countlab/internal/strictyaml"
	"github.com/countlab/countlab/sim"
)

// Defaults of fields left out.
const (
	DefaultDrainTimeout = 90 * time.Second
	DefaultConnections  = 8
	DefaultBatchMax     = 500
	DefaultFlush        = 5 * time.Millisecond
	DefaultQueriesPerS  = 20
	DefaultTracerEvery  = time.Second
	DefaultPartitions   = 4
	DefaultWorkers      = 1
	DefaultLateness     = aggregate.DefaultLateness
	DefaultOutOfOrder   = aggregate.DefaultOutOfOrderness
	DefaultCommitEvery  = aggregate.DefaultCommitInterval
	DefaultMaxDelay     = 3 * time.Second
	// maxBatchEvents is the ingest gateway's default batch limit.
	maxBatchEvents = 10_000
)

// BaselineMetrics are the metrics a baseline comparison knows.
var BaselineMetrics = func() []string {
	out := []string{"achieved_events_per_s"}
	for _, l := range []string{"ingest_ack", "freshness", "query"} {
		for _, p := range []string{"p50", "p90", "p99", "p999", "max"} {
			out = append(out, l+"_"+p)
		}
	}
	return out
}()

func (s *Scenario) applyDefaults() {
	if s.DrainTimeout == 0 {
		s.DrainTimeout = DefaultDrainTimeout
	}
	s.rollingDefaults()
	t := &s.Traffic
	if t.Rate.Shape == "" {
		t.Rate.Shape = "constant"
	}
	if t.Rate.Over == 0 {
		t.Rate.Over = s.Duration
	}
	if t.Rate.Period == 0 {
		t.Rate.Period = s.Duration
	}
	if t.Arrival == "" {
		t.Arrival = "uniform"
	}
	if t.Keys.Distribution == "" {
		t.Keys.Distribution = "zipf"
	}
	if t.Keys.Prefix == "" {
		t.Keys.Prefix = "k"
	}
	if len(t.Types) == 0 {
		t.Types = []Type{{Name: "VIEW", Weight: 1}}
	}
	for i := range t.Types {
		if t.Types[i].Weight == 0 {
			t.Types[i].Weight = 1
		}
		if t.Types[i].ValueMin == 0 && t.Types[i].ValueMax == 0 {
			t.Types[i].ValueMin, t.Types[i].ValueMax = 1, 1
		}
	}
	if t.Disorder.MaxDelay == 0 {
		t.Disorder.MaxDelay = DefaultMaxDelay
	}
	if t.Duplicates.Burst == 0 {
		t.Duplicates.Burst = 1
	}
	if len(t.Routes) > 0 {
		var vias, formats []string
		for i := range t.Routes {
			r := &t.Routes[i]
			if r.Weight == 0 {
				r.Weight = 1
			}
			if !slices.Contains(vias, r.Via) {
				vias = append(vias, r.Via)
			}
			if !slices.Contains(formats, r.Format) {
				formats = append(formats, r.Format)
			}
		}
		// For reports and messages: "gateway+kafka", "json+protobuf" (a
		// via or format given that differs is an error).
		jv, jf := strings.Join(vias, "+"), strings.Join(formats, "+")
		t.routesWithVia = t.routesWithVia || t.Via != "" && t.Via != jv || t.Format != "" && t.Format != jf
		t.Via, t.Format = jv, jf
	}
	if t.Via == "" {
		t.Via = "gateway"
	}
	if t.Format == "" {
		t.Format = "json"
	}
	if t.Connections == 0 {
		t.Connections = DefaultConnections
	}
	if t.Batch.MaxEvents == 0 {
		t.Batch.MaxEvents = DefaultBatchMax
	}
	if t.Batch.Flush == 0 {
		t.Batch.Flush = DefaultFlush
	}
	if s.Probes.QueriesPerS == 0 {
		s.Probes.QueriesPerS = DefaultQueriesPerS
	}
	if s.Probes.TracerEvery == 0 {
		s.Probes.TracerEvery = DefaultTracerEvery
	}
	e := &s.Engine
	if e.Partitions == 0 {
		e.Partitions = DefaultPartitions
	}
	if e.Workers == 0 {
		e.Workers = DefaultWorkers
	}
	if len(e.Windows) == 0 {
		e.Windows = []time.Duration{time.Minute}
	}
	if e.Lateness == 0 {
		e.Lateness = DefaultLateness
	}
	if e.OutOfOrderness == 0 {
		e.OutOfOrderness = DefaultOutOfOrder
	}
	if e.CommitInterval == 0 {
		e.CommitInterval = DefaultCommitEvery
	}
	s.applyAbortDefaults()
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// badAt is the validators' bad: it adds the mistake at path, the message
// made of format and a, with "try hint" as its fix (none for "").
func badAt(es *Errors) func(path, hint, format string, a ...any) {
	return func(path, hint, format string, a ...any) {
		fix := ""
		if hint != "" {
			fix = "try " + hint
		}
		es.Add(path, fmt.Sprintf(format, a...), fix)
	}
}

// sortedErr is es sorted by path, or nil when there are none.
func sortedErr(es Errors) error {
	slices.SortStableFunc(es, func(a, b *FieldError) int { return strings.Compare(a.Path, b.Path) })
	return es.Err()
}

// Validate checks every field and returns Errors naming each bad one with
// its path and a hint, or nil.
func (s *Scenario) Validate() error {
	var es Errors
	bad := badAt(&es)
	if !nameRe.MatchString(s.Name) {
		bad("name", "quickstart or steady-50k", "must be lower-case letters, digits and '-' (got %q)", s.Name)
	}
	if s.Duration < time.Second {
		bad("duration", "60s", "must be at least 1s (got %s)", s.Duration)
	}
	if s.DrainTimeout < 0 {
		bad("drain_timeout", "90s", "must be > 0 (got %s)", s.DrainTimeout)
	}
	t := &s.Traffic
	r := &t.Rate
	posRate := func(path string, v float64) {
		if !(v > 0) || math.IsInf(v, 0) {
			bad(path, "2000", "must be > 0 (got %v)", v)
		}
	}
	switch r.Shape {
	case "constant":
		posRate("traffic.rate.events_per_s", r.EventsPerS)
	case "ramp":
		posRate("traffic.rate.events_per_s", r.EventsPerS)
		posRate("traffic.rate.to_events_per_s", r.ToEventsPerS)
	case "spike":
		posRate("traffic.rate.events_per_s", r.EventsPerS)
		posRate("traffic.rate.peak_events_per_s", r.PeakEventsPerS)
		if r.For <= 0 {
			bad("traffic.rate.for", "10s", "a spike needs a length > 0 (got %s)", r.For)
		}
		if r.At < 0 || r.At >= s.Duration {
			bad("traffic.rate.at", "10s", "a spike must start within the duration %s (got %s)", s.Duration, r.At)
		}
	case "diurnal":
		posRate("traffic.rate.events_per_s", r.EventsPerS)
		if r.Amplitude < 0 || r.Amplitude > 1 {
			bad("traffic.rate.amplitude", "0.5", "must be in [0, 1] (got %v)", r.Amplitude)
		}
	default:
		bad("traffic.rate.shape", "constant, ramp, spike or diurnal", "unknown shape %q", r.Shape)
	}
	if t.Arrival != "uniform" && t.Arrival != "poisson" {
		bad("traffic.arrival", "uniform or poisson", "unknown arrival %q", t.Arrival)
	}
	k := &t.Keys
	if k.Count < 1 {
		bad("traffic.keys.count", "1000", "must be >= 1 (got %d)", k.Count)
	}
	switch k.Distribution {
	case "zipf", "hotspot":
		if !(k.ZipfS > 0) || math.IsInf(k.ZipfS, 0) {
			bad("traffic.keys.zipf_s", "1.1", "must be > 0 (got %v)", k.ZipfS)
		}
	case "uniform":
	default:
		bad("traffic.keys.distribution", "zipf, uniform or hotspot", "unknown distribution %q", k.Distribution)
	}
	if k.Distribution == "hotspot" {
		if k.Hot < 1 || k.Hot > k.Count {
			bad("traffic.keys.hot", "10", "must be in [1, count] (got %d)", k.Hot)
		}
		if k.HotShare <= 0 || k.HotShare > 1 {
			bad("traffic.keys.hot_share", "0.3", "must be in (0, 1] (got %v)", k.HotShare)
		}
	}
	if k.ChurnPerS < 0 {
		bad("traffic.keys.churn_per_s", "10", "must be >= 0 (got %v)", k.ChurnPerS)
	}
	if k.HotPeriod < 0 {
		bad("traffic.keys.hot_period", "10s", "must be >= 0 (got %s)", k.HotPeriod)
	}
	if checkKey(k.Prefix+"0") != nil {
		bad("traffic.keys.prefix", "k or video-", "not a valid key prefix: %v", checkKey(k.Prefix+"0"))
	}
	seenT := map[string]bool{}
	for i, ty := range t.Types {
		p := "traffic.types[" + strconv.Itoa(i) + "]"
		if !slices.Contains(event.DefaultTypes, ty.Name) {
			bad(p+".name", strings.Join(event.DefaultTypes, ", "), "unknown event type %q", ty.Name)
		}
		if seenT[ty.Name] {
			bad(p+".name", "a type once", "type %q given twice", ty.Name)
		}
		seenT[ty.Name] = true
		if ty.Weight < 0 {
			bad(p+".weight", "1", "must be > 0 (got %v)", ty.Weight)
		}
		if ty.ValueMin > ty.ValueMax || ty.ValueMin < -1<<40 || ty.ValueMax > 1<<40 {
			bad(p+".value_min", "value_min: 1, value_max: 300", "need value_min <= value_max, both within ±2^40 (got %d..%d)", ty.ValueMin, ty.ValueMax)
		}
	}
	dimNameRe := regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	seenD := map[string]bool{}
	for i, d := range t.Dims {
		p := "traffic.dims[" + strconv.Itoa(i) + "]"
		if !dimNameRe.MatchString(d.Name) {
			bad(p+".name", "country", "must be [A-Za-z0-9_]{1,64} (got %q)", d.Name)
		}
		if seenD[d.Name] {
			bad(p+".name", "each dimension once", "dimension %q given twice", d.Name)
		}
		seenD[d.Name] = true
		if len(d.Values) == 0 && d.Count < 1 {
			bad(p+".values", "values: [US, DE] or count: 10", "a dimension needs values or a count")
		}
		for j, v := range d.Values {
			if v == "" || strings.ContainsAny(v, ",=|") {
				bad(p+".values["+strconv.Itoa(j)+"]", "a plain word", "%q is empty or holds ',', '=' or '|'", v)
			}
		}
		if d.Skew < 0 {
			bad(p+".skew", "0 (uniform) or 1.1", "must be >= 0 (got %v)", d.Skew)
		}
	}
	frac := func(path string, v float64) {
		if v < 0 || v > 1 || math.IsNaN(v) {
			bad(path, "0.05", "must be a fraction in [0, 1] (got %v)", v)
		}
	}
	dis := &t.Disorder
	frac("traffic.disorder.out_of_order", dis.OutOfOrder)
	frac("traffic.disorder.too_late", dis.TooLate)
	frac("traffic.duplicates.fraction", t.Duplicates.Fraction)
	frac("traffic.malformed.fraction", t.Malformed.Fraction)
	if dis.TooLate+dis.OutOfOrder > 1 {
		bad("traffic.disorder", "smaller fractions", "out_of_order + too_late must be <= 1 (got %v)", dis.TooLate+dis.OutOfOrder)
	}
	if t.Duplicates.Fraction+t.Malformed.Fraction+t.Hostile.Fraction >= 1 {
		bad("traffic.duplicates.fraction", "smaller fractions", "duplicates + malformed + hostile must be < 1")
	}
	if dis.MaxDelay < 0 {
		bad("traffic.disorder.max_delay", "3s", "must be >= 0 (got %s)", dis.MaxDelay)
	}
	// Out-of-order events must stay counted: their delay plus any clock
	// skew must be inside out-of-orderness + lateness, with room.
	if room := s.Engine.OutOfOrderness + s.Engine.Lateness; dis.OutOfOrder > 0 && dis.MaxDelay+dis.ClockSkew > room/2 {
		bad("traffic.disorder.max_delay", (room/2).String()+" or less",
			"max_delay + clock_skew (%s) must be at most half of engine out_of_orderness + lateness (%s) so that out-of-order events still count",
			dis.MaxDelay+dis.ClockSkew, room)
	}
	if dis.ClockSkew < 0 {
		bad("traffic.disorder.clock_skew", "500ms", "must be >= 0 (got %s)", dis.ClockSkew)
	}
	if dis.Clients < 0 {
		bad("traffic.disorder.clients", "4", "must be >= 0 (got %d)", dis.Clients)
	}
	if t.Duplicates.Burst < 1 || t.Duplicates.Burst > 100 {
		bad("traffic.duplicates.burst", "3", "must be in [1, 100] (got %d)", t.Duplicates.Burst)
	}
	for i, kind := range t.Malformed.Kinds {
		if !slices.Contains(sim.MalformedKinds, kind) {
			bad("traffic.malformed.kinds["+strconv.Itoa(i)+"]", strings.Join(sim.MalformedKinds, ", "), "unknown kind %q", kind)
		}
	}
	s.validateRoutes(bad)
	s.validateHostile(bad)
	s.validateEnrichment(bad) // enrichment.go
	if t.Connections < 1 || t.Connections > 1024 {
		bad("traffic.connections", "8", "must be in [1, 1024] (got %d)", t.Connections)
	}
	if t.Batch.MaxEvents < 1 || t.Batch.MaxEvents > maxBatchEvents {
		bad("traffic.batch.max_events", "500", "must be in [1, %d] (got %d)", maxBatchEvents, t.Batch.MaxEvents)
	}
	if t.Batch.Flush < time.Millisecond || t.Batch.Flush > time.Second {
		bad("traffic.batch.flush", "5ms", "must be in [1ms, 1s] (got %s)", t.Batch.Flush)
	}
	if s.Probes.QueriesPerS < 0 || s.Probes.QueriesPerS > 10000 {
		bad("probes.queries_per_s", "20", "must be in [0, 10000] (got %v)", s.Probes.QueriesPerS)
	}
	if s.Probes.TracerEvery < 100*time.Millisecond {
		bad("probes.tracer_every", "1s", "must be at least 100ms (got %s)", s.Probes.TracerEvery)
	}
	e := &s.Engine
	if e.Partitions < 1 || e.Partitions > 1024 {
		bad("engine.partitions", "4", "must be in [1, 1024] (got %d)", e.Partitions)
	}
	if e.Workers < 1 || e.Workers > 64 {
		bad("engine.workers", "1", "must be in [1, 64] (got %d)", e.Workers)
	}
	for i, w := range e.Windows {
		if w < time.Second || w%time.Second != 0 {
			bad("engine.windows["+strconv.Itoa(i)+"]", "10s, 1m or 1h", "must be a whole number of seconds (got %s)", w)
		}
	}
	if e.Lateness < 0 {
		bad("engine.lateness", "15s", "must be >= 0 (got %s)", e.Lateness)
	}
	if e.OutOfOrderness < 0 {
		bad("engine.out_of_orderness", "5s", "must be >= 0 (got %s)", e.OutOfOrderness)
	}
	if e.CommitInterval < time.Millisecond {
		bad("engine.commit_interval", "100ms", "must be at least 1ms (got %s)", e.CommitInterval)
	}
	s.validateHotKeys(bad)
	seenF := map[string]bool{}
	for i, f := range s.Faults {
		p := "faults[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(faults.Kinds(), f.Kind):
			bad(p+".kind", strings.Join(faults.Kinds(), ", "), "unknown fault kind %q", f.Kind)
		case f.Start < 0 || f.Start >= s.Duration:
			bad(p+".start", "10s", "must be in [0, duration) so the fault starts during the traffic (got %s)", f.Start)
		case f.Duration <= 0:
			bad(p+".duration", "10s", "must be > 0 (got %s)", f.Duration)
		default:
			if err := f.Validate(); err != nil {
				bad(p+".params", faults.ParamsDoc(f.Kind), "%v", err)
			}
		}
		if f.Name != "" {
			if !nameRe.MatchString(f.Name) {
				bad(p+".name", "crash-worker-0", "must be lower-case letters, digits and '-' (got %q)", f.Name)
			}
			if seenF[f.Name] {
				bad(p+".name", "a name once", "fault %q given twice", f.Name)
			}
			seenF[f.Name] = true
		}
		if w, ok := f.Params["worker"].(int); ok && w >= s.Engine.Workers {
			bad(p+".params.worker", "0", "the engine has %d workers (got worker %d)", s.Engine.Workers, w)
		}
	}
	s.validateChaos(bad)
	slo := &s.SLO
	for path, v := range map[string]float64{"slo.min_throughput_events_per_s": slo.MinThroughputEventsPerS,
		"slo.max_p99_ingest_ack_ms": slo.MaxP99IngestAckMS, "slo.max_p99_freshness_ms": slo.MaxP99FreshnessMS, "slo.max_p99_query_ms": slo.MaxP99QueryMS,
		"slo.max_rss_slope_mib_per_h": slo.MaxRSSSlopeMiBPerH, "slo.max_harness_rss_slope_mib_per_h": slo.MaxHarnessRSSSlopeMiBPerH,
		"slo.max_goroutine_slope_per_h": slo.MaxGoroutineSlopePerH} {
		if v < 0 || math.IsNaN(v) {
			bad(path, "0 (not checked) or a positive threshold", "must be >= 0 (got %v)", v)
		}
	}
	if w := slo.ResourceWarmup; w < 0 || w > 0.9 || math.IsNaN(w) {
		bad("slo.resource_warmup", "0.2", "must be a share in [0, 0.9] (got %v)", w)
	}
	s.validateSaturation(bad)
	s.validateLongRun(bad)
	for field, mm := range map[string]map[string]float64{"tolerances": s.Baseline.Tolerances, "min_abs": s.Baseline.MinAbs} {
		for m, v := range mm {
			if !slices.Contains(BaselineMetrics, m) {
				hint := strings.Join(BaselineMetrics, ", ")
				if c := strictyaml.Closest(m, BaselineMetrics); c != "" {
					hint = strconv.Quote(c)
				}
				bad("baseline."+field+"."+m, hint, "unknown metric %q", m)
			}
			if v < 0 || math.IsNaN(v) {
				bad("baseline."+field+"."+m, "0.2", "must be >= 0 (got %v)", v)
			}
		}
	}
	if s.Baseline.Default < 0 {
		bad("baseline.default", "0.25", "must be >= 0 (got %v)", s.Baseline.Default)
	}
	if a := s.Baseline.Alpha; a < 0 || a >= 0.5 || math.IsNaN(a) {
		bad("baseline.alpha", "0.05", "must be in [0, 0.5) (got %v)", a)
	}
	s.validateAbort(bad)
	s.validateRetention(bad) // retention.go
	return sortedErr(es)
}

// validateRoutes checks traffic.via and format, or traffic.routes.
func (s *Scenario) validateRoutes(bad func(path, hint, format string, a ...any)) {
	t := &s.Traffic
	check := func(path, via, format string) {
		if via != "gateway" && via != "kafka" {
			bad(path+"via", "gateway or kafka", "unknown %q", via)
		}
		if format != "json" && format != "protobuf" {
			bad(path+"format", "json or protobuf", "unknown %q", format)
		}
	}
	if len(t.Routes) == 0 {
		check("traffic.", t.Via, t.Format)
		return
	}
	if t.routesWithVia {
		bad("traffic.routes", "routes alone, or via and format alone", "traffic.via and traffic.format must be left out when traffic.routes is given")
	}
	if len(t.Routes) > 16 {
		bad("traffic.routes", "up to 4 (each via and format once)", "at most 16 routes (got %d)", len(t.Routes))
	}
	for i, r := range t.Routes {
		p := "traffic.routes[" + strconv.Itoa(i) + "]."
		check(p, r.Via, r.Format)
		if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
			bad(p+"weight", "1", "must be > 0 (got %v)", r.Weight)
		}
	}
}

// validateHostile checks traffic.hostile.
func (s *Scenario) validateHostile(bad func(path, hint, format string, a ...any)) {
	h := &s.Traffic.Hostile
	if h.Fraction < 0 || h.Fraction >= 1 || math.IsNaN(h.Fraction) {
		bad("traffic.hostile.fraction", "0.2", "must be a fraction in [0, 1) (got %v)", h.Fraction)
	}
	for _, k := range slices.Sorted(maps.Keys(h.Kinds)) {
		p := "traffic.hostile.kinds." + k
		if !slices.Contains(sim.HostileKinds, k) {
			hint := strings.Join(sim.HostileKinds, ", ")
			if c := strictyaml.Closest(k, sim.HostileKinds); c != "" {
				hint = strconv.Quote(c)
			}
			bad(p, hint, "unknown hostile kind %q", k)
		}
		if w := h.Kinds[k]; !(w > 0) || math.IsInf(w, 0) {
			bad(p, "1", "the weight must be > 0 (got %v)", w)
		}
	}
	if len(h.Kinds) > 0 && h.Fraction == 0 {
		bad("traffic.hostile.fraction", "0.2", "hostile kinds are chosen but the fraction is 0: none would be sent")
	}
	_, pairs := h.Kinds["same_id_variant"]
	if h.Fraction > 0 && (pairs || len(h.Kinds) == 0) && s.Traffic.Batch.MaxEvents < 2 {
		bad("traffic.batch.max_events", "2 or more", "same_id_variant sends two events in one batch (got max_events %d)", s.Traffic.Batch.MaxEvents)
	}
}

func checkKey(k string) error {
	v, _ := event.NewValidator()
	return v.Validate(&event.Event{ID: "x", Key: k, Type: event.DefaultTypes[0], Value: 1, TS: 1})
}

// validateHotKeys checks engine.hot_keys: keys of the traffic, each
// split 2..partitions ways.
func (s *Scenario) validateHotKeys(bad func(path, hint, format string, a ...any)) {
	k := s.Traffic.Keys
	for _, key := range slices.Sorted(maps.Keys(s.Engine.HotKeys)) {
		n, p := s.Engine.HotKeys[key], "engine.hot_keys."+key
		index, prefixed := strings.CutPrefix(key, k.Prefix)
		i, err := strconv.Atoi(index)
		switch {
		case !prefixed || err != nil || strconv.Itoa(i) != index || i < 0 || i >= k.Count: // "k01" is not k1
			bad(p, fmt.Sprintf("%s0 (the hottest of a zipf)", k.Prefix), "not a key of the traffic (%s0 .. %s%d: traffic.keys.prefix and an index below traffic.keys.count)", k.Prefix, k.Prefix, max(k.Count-1, 0))
		case n < 2 || n > s.Engine.Partitions:
			bad(p, fmt.Sprintf("%d (engine.partitions)", s.Engine.Partitions), "must split the key 2..engine.partitions ways (got %d)", n)
		}
	}
}

// validateSaturation checks the saturation rules' thresholds.
func (s *Scenario) validateSaturation(bad func(path, hint, format string, a ...any)) {
	sa := &s.Saturation
	for path, v := range map[string]float64{"saturation.sender_lag_ms": sa.SenderLagMS, "saturation.throttled_share": sa.ThrottledShare,
		"saturation.request_p99_ms": sa.RequestP99MS, "saturation.produce_p99_ms": sa.ProduceP99MS, "saturation.engine_lag_s": sa.EngineLagS,
		"saturation.sink_lag_s": sa.SinkLagS, "saturation.min_lag_records": sa.MinLagRecords, "saturation.influx_write_ms": sa.InfluxWriteMS, "saturation.sender_busy": sa.SenderBusy} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad(path, "0 (the default) or a positive threshold", "must be >= 0 (got %v)", v)
		}
	}
	if sa.SenderBusy > 1 {
		bad("saturation.sender_busy", "0.9", "must be a share in [0, 1] (got %v)", sa.SenderBusy)
	}
	if sa.ThrottledShare > 1 {
		bad("saturation.throttled_share", "0.01", "must be a share in [0, 1] (got %v)", sa.ThrottledShare)
	}
	if sa.Sustain < 0 || sa.Sustain > 600 {
		bad("saturation.sustain", "3", "must be in [0, 600] samples (got %d)", sa.Sustain)
	}
	if sa.GrowFor < 0 || sa.GrowFor > 600 {
		bad("saturation.grow_for", "5", "must be in [0, 600] samples (got %d)", sa.GrowFor)
	}
}

// validateChaos checks the gateway's capacity settings, that faults which
// must not overlap do not (faults.Overlaps), that a clock-skew keeps the
// skewed events on time, and the random_faults section.
func (s *Scenario) validateChaos(bad func(path, hint, format string, a ...any)) {
	e, dis := &s.Engine, &s.Traffic.Disorder
	if v := e.GatewayMaxEventsPerS; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		bad("engine.gateway_max_events_per_s", "0 (no cap) or 1000", "must be >= 0 (got %v)", v)
	}
	if n := e.GatewayMaxInFlight; n != 0 && n < s.Traffic.Batch.MaxEvents {
		bad("engine.gateway_max_in_flight", "0 (the default) or at least traffic.batch.max_events",
			"must be 0 or >= traffic.batch.max_events %d, or a batch never fits (got %d)", s.Traffic.Batch.MaxEvents, n)
	}
	if err := faults.Overlaps(s.Faults); err != nil {
		bad("faults", "faults of one target one after the other", "%v", err)
	}
	// A skewed clock shifts the events it touches, and, ahead, the
	// watermark for the others: the offset plus the other disorder must
	// stay within half of out-of-orderness + lateness, so that the skewed
	// events (and the rest) are still counted on time, as the truth
	// expects.
	room := e.OutOfOrderness + e.Lateness
	other := dis.ClockSkew
	if dis.OutOfOrder > 0 {
		other += dis.MaxDelay
	}
	for i, f := range s.Faults {
		if off := faults.ClockOffset(f); off != 0 && off.Abs()+other > room/2 {
			bad("faults["+strconv.Itoa(i)+"].params.offset", (room/2-other).String()+" or less",
				"|offset| + max_delay + clock_skew (%s) must be at most half of engine out_of_orderness + lateness (%s) so that skewed events still count on time",
				off.Abs()+other, room)
		}
	}
	if r := s.RandomFaults; r != nil && !s.randomDrawn {
		if _, err := r.Expand(s.Duration, e.Workers, s.Faults); err != nil {
			bad("random_faults", "see faults.Random: seed, count, kinds, min_duration, max_duration, min_gap, from, tail, params", "%v", err)
		}
	}
}
