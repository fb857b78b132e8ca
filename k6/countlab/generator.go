package countlab

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/grafana/sobek"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim"
)

// GeneratorOptions are the options of countlab.generator({...}).
type GeneratorOptions struct {
	// Seed of VU n's stream is Seed + n (default 1).
	Seed int64 `js:"seed"`
	// Keys is the number of counted keys (default 1000).
	Keys int `js:"keys"`
	// ZipfS is the key skew exponent; 0 picks keys uniformly (default 0).
	ZipfS float64 `js:"zipf_s"`
	// KeyPrefix starts every key (default "k").
	KeyPrefix string `js:"key_prefix"`
	// Types are type names (["VIEW","CLICK"]) or objects
	// {name, weight, min, max} (values: whole numbers in [min, max],
	// default 1). Default ["VIEW"].
	Types []any `js:"types"`
	// Dims maps a dimension name to its values (an array of strings, or a
	// number n for "<name>1".."<name>n").
	Dims map[string]any `js:"dims"`
	// Duplicates is the fraction of re-sent events (same id).
	Duplicates float64 `js:"duplicates"`
	// Late is the fraction of events stamped LateBy in the past: beyond
	// the allowed lateness, so the engine does not count them (the ledger
	// keeps them apart). None in the first LateAfter of a VU's stream.
	Late      float64 `js:"late"`
	LateBy    string  `js:"late_by"`    // default "5m"
	LateAfter string  `js:"late_after"` // default "5s"
	// OutOfOrder is the fraction of events stamped up to MaxDelay in the
	// past (within the allowed lateness).
	OutOfOrder float64 `js:"out_of_order"`
	MaxDelay   string  `js:"max_delay"` // default "2s"
	// Malformed is the fraction of invalid events (rejected, never
	// counted).
	Malformed float64 `js:"malformed"`
	// RunID starts every event id (default: one per k6 process), so two
	// runs against the same stack never share an id.
	RunID string `js:"run_id"`
}

// processRunID is the default run id: unique per k6 process.
var processRunID = "k6" + strconv.FormatInt(time.Now().UnixNano(), 36)

func (o *GeneratorOptions) config() (sim.Config, error) {
	var cfg sim.Config
	if o.Keys <= 0 {
		o.Keys = 1000
	}
	if o.ZipfS > 0 {
		z, err := sim.NewZipf(o.Keys, o.ZipfS)
		if err != nil {
			return cfg, err
		}
		cfg.Keys = z
	} else {
		cfg.Keys = sim.Uniform{N: uint64(o.Keys)}
	}
	cfg.KeyPrefix = o.KeyPrefix
	if len(o.Types) == 0 {
		o.Types = []any{"VIEW"}
	}
	for i, t := range o.Types {
		ts, err := typeSpec(t)
		if err != nil {
			return cfg, fmt.Errorf("types[%d]: %w", i, err)
		}
		cfg.Types = append(cfg.Types, ts)
	}
	for name, v := range o.Dims {
		d := sim.DimSpec{Name: name}
		switch v := v.(type) {
		case int64:
			d.Values = sim.DimValues(name, int(v))
		case float64:
			d.Values = sim.DimValues(name, int(v))
		case []any:
			for _, s := range v {
				d.Values = append(d.Values, fmt.Sprint(s))
			}
		default:
			return cfg, fmt.Errorf("dims.%s: want an array of values or a number, got %T", name, v)
		}
		cfg.Dims = append(cfg.Dims, d)
	}
	var err error
	d := &cfg.Disorder
	d.TooLate, d.OutOfOrder = o.Late, o.OutOfOrder
	if d.LateBy, err = durationOr(o.LateBy, 5*time.Minute); err != nil {
		return cfg, fmt.Errorf("late_by: %w", err)
	}
	if d.LateAfter, err = durationOr(o.LateAfter, 5*time.Second); err != nil {
		return cfg, fmt.Errorf("late_after: %w", err)
	}
	if d.MaxDelay, err = durationOr(o.MaxDelay, 2*time.Second); err != nil {
		return cfg, fmt.Errorf("max_delay: %w", err)
	}
	cfg.Duplicates.Fraction = o.Duplicates
	cfg.Malformed.Fraction = o.Malformed
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.RunID == "" {
		o.RunID = processRunID
	}
	return cfg, nil
}

func typeSpec(v any) (sim.TypeSpec, error) {
	switch v := v.(type) {
	case string:
		return sim.TypeSpec{Name: v, Weight: 1, Values: sim.Fixed(1)}, nil
	case map[string]any:
		ts := sim.TypeSpec{Weight: 1}
		ts.Name, _ = v["name"].(string)
		if ts.Name == "" {
			return ts, errors.New("a type needs a name")
		}
		if w, ok := number(v["weight"]); ok {
			ts.Weight = w
		}
		lo, okLo := number(v["min"])
		hi, okHi := number(v["max"])
		switch {
		case okLo && okHi:
			ts.Values = sim.UniformInt{Min: int64(lo), Max: int64(hi)}
		case okLo:
			ts.Values = sim.Fixed(lo)
		default:
			ts.Values = sim.Fixed(1)
		}
		return ts, nil
	}
	return sim.TypeSpec{}, fmt.Errorf("want a name or {name, weight, min, max}, got %T", v)
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}

// Generator is a VU's event stream (countlab.generator). It is created in
// the init context and seeded on first use, when the VU id is known.
type Generator struct {
	mi   *ModuleInstance
	opts GeneratorOptions
	cfg  sim.Config

	once  sync.Once
	err   error
	vu    uint64
	g     *sim.Generator
	start time.Time
}

func (mi *ModuleInstance) newGenerator(opts sobek.Value) (*Generator, error) {
	g := &Generator{mi: mi}
	if err := exportOpts(mi, opts, &g.opts); err != nil {
		return nil, fmt.Errorf("countlab.generator: %w", err)
	}
	cfg, err := g.opts.config()
	if err != nil {
		return nil, fmt.Errorf("countlab.generator: %w", err)
	}
	g.cfg = cfg
	// Build one now so a bad option fails in the init context.
	if _, err := sim.NewGenerator(cfg); err != nil {
		return nil, fmt.Errorf("countlab.generator: %w", err)
	}
	return g, nil
}

func (g *Generator) init() error {
	g.once.Do(func() {
		if st := g.mi.vu.State(); st != nil {
			g.vu = st.VUID
		}
		cfg := g.cfg
		cfg.Seed = uint64(g.opts.Seed) + g.vu
		cfg.IDPrefix = g.opts.RunID + "-v" + strconv.FormatUint(g.vu, 10) + "-"
		g.start = time.Now()
		cfg.Start = g.start
		g.g, g.err = sim.NewGenerator(cfg)
	})
	return g.err
}

// Batch makes the next n items of the VU's stream, stamped now.
func (g *Generator) Batch(n int) (*Batch, error) {
	if err := g.init(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("batch: n must be > 0, got %d", n)
	}
	at := time.Since(g.start)
	b := &Batch{vu: g.vu, Items: make([]sim.Item, n)}
	for i := range b.Items {
		b.Items[i] = g.g.Next(at)
	}
	return b, nil
}

// Stats is what the generator made so far:
// {fresh, duplicates, malformed, late, out_of_order}.
func (g *Generator) Stats() map[string]int64 {
	if g.g == nil {
		return map[string]int64{}
	}
	s := g.g.Stats()
	return map[string]int64{"fresh": s.Fresh, "duplicates": s.Duplicates, "malformed": s.Malformed,
		"late": s.Late, "out_of_order": s.OutOfOrder}
}

// Batch is a batch of generated events, passed from gen.batch(n) to
// produce/post without converting them to JS values.
type Batch struct {
	vu    uint64
	Items []sim.Item `js:"-"`
}

// Length is the number of events in the batch.
func (b *Batch) Length() int { return len(b.Items) }

// Events are the batch's events as JS objects {id, key, type, value, ts,
// dims, kind, late}, for scripts that inspect them.
func (b *Batch) Events() []map[string]any {
	out := make([]map[string]any, len(b.Items))
	for i := range b.Items {
		it := &b.Items[i]
		out[i] = eventObject(&it.Event)
		out[i]["kind"] = it.Kind.String()
		out[i]["late"] = it.Late
	}
	return out
}

func eventObject(e *event.Event) map[string]any {
	dims := make(map[string]any, len(e.Dims))
	for _, d := range e.Dims {
		dims[d.Name] = d.Value
	}
	return map[string]any{"id": e.ID, "key": e.Key, "type": e.Type, "value": e.Value, "ts": e.TS, "dims": dims}
}

// exportOpts fills dst (a struct with js tags) from a JS options object;
// undefined or null leaves it alone.
func exportOpts(mi *ModuleInstance, v sobek.Value, dst any) error {
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		return nil
	}
	return mi.vu.Runtime().ExportTo(v, dst)
}
