package difftest

import (
	"math"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/sim/oracle"
)

// ref is the reference time the inputs are made around.
const ref = int64(1_795_447_277_000) // 2026-11-23T15:21:17Z

var testWindows = []time.Duration{10 * time.Second, time.Minute}

func newPair(t testing.TB, partitions int32) (*event.Validator, *oracle.Oracle) {
	t.Helper()
	v, err := event.NewValidator(event.WindowSizes(testWindows...))
	if err != nil {
		t.Fatal(err)
	}
	o, err := oracle.New(oracle.Config{Windows: testWindows, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	return v, o
}

// engineVerdict is the engine's verdict on a record value: its reason
// code ("" accepted) and the decoded event.
func engineVerdict(v *event.Validator, b []byte, ref int64) (string, event.Event) {
	var e event.Event
	_, err := event.Decode(b, &e)
	if err := v.ValidateDecodedAt(&e, ref, err); err != nil {
		return codeOf(err), e
	}
	return "", e
}

func codeOf(err error) string {
	if c := event.ErrorCode(err); c != "" {
		return c
	}
	return "uncoded: " + err.Error()
}

// sameEvent says how an accepted event's decodings differ ("" if not).
func sameEvent(e event.Event, o oracle.Event) string {
	ov := o.Value
	if !o.HasValue {
		ov = 1
	}
	var dims []oracle.Dim
	for _, d := range e.Dims {
		dims = append(dims, oracle.Dim{Name: d.Name, Value: d.Value})
	}
	switch {
	case e.ID != o.ID:
		return "id " + strconv.Quote(e.ID) + " vs " + strconv.Quote(o.ID)
	case e.Key != o.Key:
		return "key " + strconv.Quote(e.Key) + " vs " + strconv.Quote(o.Key)
	case e.Type != o.Type:
		return "type"
	case math.Float64bits(e.Value) != math.Float64bits(ov) && !(e.Value == 0 && ov == 0):
		return "value " + strconv.FormatFloat(e.Value, 'g', -1, 64) + " vs " + strconv.FormatFloat(ov, 'g', -1, 64)
	case e.TS != o.TS:
		return "ts " + strconv.FormatInt(e.TS, 10) + " vs " + strconv.FormatInt(o.TS, 10)
	case e.DimSet() != oracle.DimSet(o.Dims) || oracle.DimSet(dims) != oracle.DimSet(o.Dims):
		return "dims " + strconv.Quote(e.DimSet()) + " vs " + strconv.Quote(oracle.DimSet(o.Dims))
	}
	return ""
}

// checkVerdict fails t when the engine and the oracle disagree on b.
func checkVerdict(t testing.TB, v *event.Validator, o *oracle.Oracle, b []byte, ref int64) bool {
	t.Helper()
	code, e := engineVerdict(v, b, ref)
	ov := o.ExpectRecord(b, ref)
	if code != ov.Code {
		t.Errorf("%q (ref %d): engine %q, oracle %q", b, ref, code, ov.Code)
		return false
	}
	if code == "" {
		if d := sameEvent(e, ov.Event); d != "" {
			t.Errorf("%q: decoded differently: %s", b, d)
			return false
		}
	}
	return true
}

// TestVerdicts: on random and adversarial record values, the engine's
// decode+validate and the oracle give the same reason code, and the same
// event when they accept it. Disagreements are reported by class
// (engine code, oracle code) with a count and the shortest example.
func TestVerdicts(t *testing.T) {
	v, o := newPair(t, 0)
	g := newGen(1, ref)
	n := 20000
	if testing.Short() {
		n = 5000
	}
	type class struct{ engine, oracle string }
	codes := map[string]int{}
	count := map[class]int{}
	example := map[class][]byte{}
	for range n {
		in := g.next()
		code, e := engineVerdict(v, in.value, in.ref)
		ov := o.ExpectRecord(in.value, in.ref)
		codes[ov.Code]++
		c := class{code, ov.Code}
		if code == ov.Code && code == "" {
			if d := sameEvent(e, ov.Event); d != "" {
				c.engine = "accepted, decoded differently: " + d
			}
		}
		if c.engine == c.oracle {
			continue
		}
		count[c]++
		if ex, ok := example[c]; !ok || len(in.value) < len(ex) {
			example[c] = in.value
		}
	}
	classes := make([]class, 0, len(count))
	for c := range count {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool { return count[classes[i]] > count[classes[j]] })
	for _, c := range classes {
		t.Errorf("%d of %d inputs: engine %q, oracle %q; e.g. %q", count[c], n, c.engine, c.oracle, example[c])
	}
	for _, c := range oracle.Codes {
		if codes[c] == 0 {
			t.Errorf("no input with code %s: the generator misses a kind", c)
		}
	}
	t.Logf("%d inputs: %d accepted, codes %v", n, codes[""], codes)
}

// FuzzVerdict holds the engine's decode+validate and the oracle to the
// same reason code (and the same event when accepted) on any bytes, at a
// reference time the fuzzer also picks.
func FuzzVerdict(f *testing.F) {
	g := newGen(2, ref)
	for range 64 {
		in := g.next()
		f.Add(in.value, in.ref-ref)
	}
	v, o := newPair(f, 0)
	f.Fuzz(func(t *testing.T, b []byte, dref int64) {
		checkVerdict(t, v, o, b, ref+dref%(400*86_400_000))
	})
}
