package oracle

import (
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ref is a fixed reference time: 2026-11-23T15:21:17Z.
const ref = int64(1795447277000)

func newOracle(t *testing.T, c Config) *Oracle {
	t.Helper()
	o, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestJSONCodes holds the oracle's JSON reading to the contract's table,
// one case per row and per subtle case of the order.
func TestJSONCodes(t *testing.T) {
	o := newOracle(t, Config{Windows: []time.Duration{10 * time.Second, time.Minute}})
	ok := `{"id":"e1","key":"k","type":"VIEW","ts":1795447277000}`
	cases := []struct{ raw, want string }{
		{ok, ""},
		{`{"id":"e1","key":"k","type":"VIEW","value":2.5,"ts":"2026-11-23T15:21:17.123456Z","dims":{"b":"2","a":"1"}}`, ""},
		{`{"id":"e1","key":"k w=,\"x","type":"VIEW","ts":1795447277000}`, ""},
		{`{"id":"e1","key":"k","type":"VIEW","value":null,"ts":1795447277000}`, ""},
		{` ` + ok + "\n", ""},
		{``, CodeSyntax},
		{`[` + ok + `]`, CodeSyntax},
		{ok + `x`, CodeSyntax},
		{ok + ok, CodeSyntax},
		{`{"id":"e1",}`, CodeSyntax},
		{`{"id":"e1\u12"}`, CodeSyntax},
		{"{\"id\":\"e\x01\"}", CodeSyntax},
		{`{"id":01}`, CodeSyntax},
		{"{\"zz\":1,\"id\":\"e1\xff\"}", CodeUTF8},
		{"{\"id\":\"e1\",\"key\":\"k\xff\",\"type\":\"VIEW\",\"ts\":1795447277000}", CodeUTF8},
		{`{"id":"e1","key":"k\ud800","type":"VIEW","ts":1795447277000}`, CodeUTF8},
		{`{"id":"e1","key":"k\udc00\ud800","type":"VIEW","ts":1795447277000}`, CodeUTF8},
		{"{\"id\":\"e1\",\"key\":\"k\xed\xa0\x80\",\"type\":\"VIEW\",\"ts\":1795447277000}", CodeUTF8},
		{`{"id":"e1","key":"k\ud83d\ude00","type":"VIEW","ts":1795447277000}`, ""},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"Id":"x"}`, CodeFieldUnknown},
		{`{"id":"e1","id":"e1","zz":1}`, CodeFieldDuplicate},
		{`{"zz":1,"id":"e1","id":"e1"}`, CodeFieldUnknown},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a":"1","a":"2"}}`, CodeFieldDuplicate},
		{`{"key":"k","type":"VIEW","ts":1795447277000}`, CodeFieldMissing},
		{`{"id":"","key":"k","type":"VIEW","ts":1795447277000}`, CodeFieldMissing},
		{`{"id":"e1","key":"k","type":"VIEW","ts":null}`, CodeFieldMissing},
		{`{"id":"e1","key":"k","type":"VIEW"}`, CodeFieldMissing},
		{`{"id":"` + strings.Repeat("i", 129) + `","key":"k","type":"VIEW","ts":1795447277000}`, CodeID},
		{`{"id":"` + strings.Repeat("i", 128) + `","key":"k","type":"VIEW","ts":1795447277000}`, ""},
		{`{"id":5,"key":"k","type":"VIEW","ts":1795447277000}`, CodeID},
		{`{"id":"e1","key":"` + strings.Repeat("k", 257) + `","type":"VIEW","ts":1795447277000}`, CodeKey},
		{`{"id":"e1","key":"k\\","type":"VIEW","ts":1795447277000}`, CodeKey},
		{`{"id":"e1","key":"k\u0000","type":"VIEW","ts":1795447277000}`, CodeKey},
		{`{"id":"e1","key":"k\u007f","type":"VIEW","ts":1795447277000}`, CodeKey},
		{`{"id":"e1","key":"k\u0085","type":"VIEW","ts":1795447277000}`, CodeKey},
		{`{"id":"e1","key":"k","type":"view","ts":1795447277000}`, CodeType},
		{`{"id":"e1","key":"k","type":"VIEW","value":"1","ts":1795447277000}`, CodeValue},
		{`{"id":"e1","key":"k","type":"VIEW","value":1e400,"ts":1795447277000}`, CodeValue},
		{`{"id":"e1","key":"k","type":"VIEW","value":9007199254740993,"ts":1795447277000}`, CodeValue}, // its double is 2^53, the number is beyond
		{`{"id":"e1","key":"k","type":"VIEW","value":-9007199254740994,"ts":1795447277000}`, CodeValue},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277}`, CodeTSUnit},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000000}`, CodeTSUnit},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000000000}`, CodeTSUnit},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447577001}`, CodeTSFuture},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447577000}`, ""},
		{`{"id":"e1","key":"k","type":"VIEW","ts":"2026-11-16T15:21:16Z"}`, CodeTSTooOld},
		{`{"id":"e1","key":"k","type":"VIEW","ts":"2026-11-23T15:21:17+01:00"}`, ""},
		{`{"id":"e1","key":"k","type":"VIEW","ts":"2026-11-23 15:21:17Z"}`, CodeTSRange},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1.5}`, CodeTSRange},
		{`{"id":"e1","key":"k","type":"VIEW","ts":99999999999999999999}`, CodeTSRange},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a b":"1"}}`, CodeDims},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a":""}}`, CodeDims},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a":"x|y"}}`, CodeDims},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a":1}}`, CodeDims},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":[]}`, CodeDims},
		{`{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{"a":"` + strings.Repeat("v", 129) + `"}}`, CodeDims},
		// order: key (6) before value (8) before dims (13)
		{`{"id":"e1","key":"k\\","type":"VIEW","value":"x","ts":1795447277000,"dims":{"a":""}}`, CodeKey},
	}
	for _, c := range cases {
		v := o.Expect(Sent{Raw: []byte(c.raw), Ref: ref})
		if v.Code != c.want {
			t.Errorf("%q: code %q, want %q", c.raw, v.Code, c.want)
		}
	}
	many := `{"id":"e1","key":"k","type":"VIEW","ts":1795447277000,"dims":{`
	for i := range 17 {
		if i > 0 {
			many += ","
		}
		many += `"d` + string(rune('a'+i)) + `":"v"`
	}
	if v := o.Expect(Sent{Raw: []byte(many + "}}"), Ref: ref}); v.Code != CodeDims {
		t.Errorf("17 dims: %q, want dims", v.Code)
	}
}

// TestTSRange: with no max age, ts <= 0 and windows past 2262 are ts_range.
func TestTSRange(t *testing.T) {
	o := newOracle(t, Config{MaxAge: math.MaxInt64, MaxFutureSkew: math.MaxInt64, Windows: []time.Duration{time.Hour}, DedupHorizon: 2 * time.Hour})
	end := time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC).UnixMilli()
	if end != maxWindowEnd {
		t.Fatalf("maxWindowEnd %d, want %d", maxWindowEnd, end)
	}
	e := Event{ID: "e", Key: "k", Type: "VIEW"}
	for _, c := range []struct {
		ts   int64
		want string
	}{{-5, CodeTSRange}, {end - 3600_000 - 1, ""}, {end - 1, CodeTSRange}, {1, ""}} {
		e.TS = c.ts
		if v := o.Expect(Sent{Event: &e, Ref: ref}); v.Code != c.want {
			t.Errorf("ts %d: %q, want %q", c.ts, v.Code, c.want)
		}
	}
}

func protoEvent(fields ...func([]byte) []byte) []byte {
	var b []byte
	for _, f := range fields {
		b = f(b)
	}
	return b
}

func pbStr(n protowire.Number, s string) func([]byte) []byte {
	return func(b []byte) []byte {
		return protowire.AppendString(protowire.AppendTag(b, n, protowire.BytesType), s)
	}
}

func pbTSms(ts int64) func([]byte) []byte {
	return func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, pbTS, protowire.VarintType), uint64(ts))
	}
}

func pbDim(name, value string) func([]byte) []byte {
	return func(b []byte) []byte {
		entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), name)
		entry = protowire.AppendString(protowire.AppendTag(entry, 2, protowire.BytesType), value)
		return protowire.AppendBytes(protowire.AppendTag(b, pbDims, protowire.BytesType), entry)
	}
}

func TestProtoCodes(t *testing.T) {
	o := newOracle(t, Config{})
	base := []func([]byte) []byte{pbStr(pbID, "e1"), pbStr(pbKey, "k"), pbStr(pbType, "VIEW"), pbTSms(ref)}
	with := func(extra ...func([]byte) []byte) []byte { return protoEvent(append(slices.Clone(base), extra...)...) }
	value := func(v float64) func([]byte) []byte {
		return func(b []byte) []byte {
			return protowire.AppendFixed64(protowire.AppendTag(b, pbValue, protowire.Fixed64Type), math.Float64bits(v))
		}
	}
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"ok", with(), ""},
		{"dims", with(pbDim("country", "US"), value(3)), ""},
		{"truncated", with()[:5], CodeSyntax},
		{"wrong wire type", with(func(b []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(b, pbKey, protowire.VarintType), 1)
		}), CodeSyntax},
		{"bad utf8", with(pbDim("a", "\xff")), CodeUTF8},
		{"unknown skipped", with(func(b []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(b, 9, protowire.VarintType), 1)
		}), ""},
		{"last of a repeated field", with(pbStr(pbKey, "k\\")), CodeKey},
		{"last of a repeated dim", with(pbDim("a", ""), pbDim("a", "2")), ""},
		{"ts 0 on the wire", protoEvent(pbStr(pbID, "e1"), pbStr(pbKey, "k"), pbStr(pbType, "VIEW"), pbTSms(0)), CodeTSTooOld},
		{"no ts", protoEvent(pbStr(pbID, "e1"), pbStr(pbKey, "k"), pbStr(pbType, "VIEW")), CodeFieldMissing},
		{"seconds", protoEvent(pbStr(pbID, "e1"), pbStr(pbKey, "k"), pbStr(pbType, "VIEW"), pbTSms(ref/1000)), CodeTSUnit},
		{"nan", with(value(math.NaN())), CodeValue},
	}
	for _, c := range cases {
		if v := o.Expect(Sent{Raw: c.raw, Proto: true, Ref: ref}); v.Code != c.want {
			t.Errorf("%s: %q, want %q", c.name, v.Code, c.want)
		}
		if v := o.ExpectRecord(c.raw, ref); v.Code != c.want && c.name != "truncated" {
			t.Errorf("%s as a record: %q, want %q", c.name, v.Code, c.want)
		}
	}
	// "\n{" starts a protobuf Event with a 123-byte id.
	raw := protoEvent(pbStr(pbID, "{"+strings.Repeat("x", 122)), pbStr(pbKey, "k"), pbStr(pbType, "VIEW"), pbTSms(ref))
	if v := o.ExpectRecord(raw, ref); v.Code != "" {
		t.Errorf("\\n{ protobuf record: %q", v.Code)
	}
}

// TestSimMode: the first acked copy of (key, id) counts, in every window
// size; refusals and mismatches are recorded.
func TestSimMode(t *testing.T) {
	o := newOracle(t, Config{Windows: []time.Duration{10 * time.Second, time.Minute}})
	ev := func(key, id string, ts int64, v float64, dims ...Dim) *Event {
		return &Event{ID: id, Key: key, Type: "VIEW", TS: ts, Value: v, HasValue: true, Dims: dims}
	}
	o.Add(Sent{Event: ev("a", "1", ref, 2), Ref: ref, Acked: true})
	o.Add(Sent{Event: ev("a", "1", ref+20_000, 5), Ref: ref, Acked: true}) // duplicate, other payload
	o.Add(Sent{Event: ev("b", "1", ref+1, 3, Dim{"z", "1"}, Dim{"c", "2"}), Ref: ref, Acked: true})
	o.Add(Sent{Event: ev("b", "2", ref-100_000, 1), Ref: ref, Acked: true, Late: true})
	o.Add(Sent{Event: ev("c", "1", ref, math.Inf(1)), Ref: ref, Code: CodeValue})
	o.Add(Sent{Event: ev("c", "2", ref, 1), Ref: ref, Code: CodeKey})               // refused an accepted one
	o.Add(Sent{Event: ev("c\\", "3", ref, 1), Ref: ref, Acked: true})               // acked a refused one
	o.Add(Sent{Event: ev("c\\", "4", ref, 1), Ref: ref, Acked: true, Direct: true}) // dead-lettered
	o.Add(Sent{Event: ev("c", "5", ref, 1), Ref: ref})                              // failed
	st := o.Stats()
	if st.Distinct != 2 || st.Duplicates != 1 || st.Late != 1 || st.Mismatches != 2 || st.Failed != 1 ||
		st.Refused[CodeValue] != 1 || st.Refused[CodeKey] != 2 {
		t.Fatalf("stats %+v", st)
	}
	ms := o.Mismatches()
	if ms[0].Kind != MismatchRefusedAccepted || ms[1].Kind != MismatchAckedRefused {
		t.Fatalf("mismatches %+v", ms)
	}
	got := o.Windows(ByDimSet, false)
	w10 := windowStart(ref, 10_000)
	w60 := windowStart(ref, 60_000)
	want := []Window{
		{WindowKey{10_000, w10, "VIEW", "a", ""}, Total{1, 2}},
		{WindowKey{10_000, w10, "VIEW", "b", "c=2,z=1"}, Total{1, 3}},
		{WindowKey{60_000, w60, "VIEW", "a", ""}, Total{1, 2}},
		{WindowKey{60_000, w60, "VIEW", "b", "c=2,z=1"}, Total{1, 3}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("windows\n%v\nwant\n%v", got, want)
	}
	if n := len(o.Windows(ByKey, true)); n != 6 {
		t.Fatalf("%d windows with the late ones, want 6", n)
	}
	path := filepath.Join(t.TempDir(), "truth.bin")
	if err := o.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Windows(ByDimSet, true), o.Windows(ByDimSet, true)) || l.Stats().Distinct != 2 ||
		!slices.Equal(l.Mismatches(), ms) || !slices.Equal(l.Sizes(), o.Sizes()) {
		t.Fatal("the loaded truth differs")
	}
}

func rec(p int32, off, ts int64, key, id string, headers ...Header) Record {
	v := `{"id":"` + id + `","key":"` + key + `","type":"VIEW","ts":` + itoa(ts) + `}`
	return Record{Partition: p, Offset: off, Timestamp: ts, Value: []byte(v), Headers: headers}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestLogMode: the watermark min(ts, ref) - ooo per partition, lateness,
// the dedup horizon and moved records.
func TestLogMode(t *testing.T) {
	o := newOracle(t, Config{Windows: []time.Duration{10 * time.Second}, Lateness: 15 * time.Second,
		OutOfOrderness: 5 * time.Second})
	base := windowStart(ref, 10_000)
	o.AddRecord(rec(0, 0, base, "a", "1"))
	// Ahead of its ingest time: counted, but moves the watermark only to ref.
	future := rec(0, 1, base+200_000, "a", "2")
	future.Timestamp = base + 1
	o.AddRecord(future)
	o.AddRecord(rec(0, 2, base+2, "a", "3")) // on time
	o.AddRecord(rec(0, 3, base+100_000, "a", "4"))
	// watermark is now base+95_000: window [base, base+10s) closed at
	// base+25s, so this one is late.
	o.AddRecord(rec(0, 4, base+5, "a", "5"))
	o.AddRecord(rec(0, 5, base+5, "a", "1")) // duplicate within the horizon
	o.AddRecord(rec(1, 0, base+5, "a", "5")) // another partition: its own watermark
	st := o.Stats()
	if st.Distinct != 5 || st.Late != 1 || st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A late first copy wins: a later on-time copy (another ts) is a
	// duplicate.
	o.AddRecord(rec(0, 8, base+100_001, "a", "5"))
	if st := o.Stats(); st.Duplicates != 2 || st.Distinct != 5 {
		t.Fatalf("after an on-time copy of a late event: %+v", st)
	}
	// Beyond the horizon the first copy is forgotten: a copy with another
	// ts counts again.
	o.AddRecord(rec(0, 6, base+700_000, "a", "9"))
	o.AddRecord(rec(0, 7, base+700_001, "a", "1"))
	if st := o.Stats(); st.Distinct != 7 || st.Duplicates != 2 || st.Stale != 1 {
		t.Fatalf("after the horizon: %+v", st)
	}
	// The engine counts that stale repeat; a reconcile, which knows every
	// identity, does not.
	stale := windowStart(base+700_001, 10_000)
	has := func(includeLate bool) bool {
		for _, w := range o.Windows(ByKey, includeLate) {
			if w.Start == stale && w.Key == "a" && w.Count == 2 {
				return true
			}
		}
		return false
	}
	if !has(false) || has(true) {
		t.Fatalf("window at %d: the engine's truth should count the stale repeat (%v), the reconciled one not (%v)", stale, has(false), has(true))
	}
}

func TestMoved(t *testing.T) {
	o := newOracle(t, Config{Partitions: 4})
	key := "k"
	want := o.canonical(&Event{Key: key})
	other := (want + 1) % 4
	o.AddRecord(rec(other, 7, ref, key, "1"))
	o.AddRecord(rec(want, 3, ref, key, "1", Header{MovedHeader, []byte(itoa(int64(other)) + "/7")}))
	// copy first, then its original (fed from another partition's reader)
	o.AddRecord(rec(want, 4, ref, key, "2", Header{MovedHeader, []byte(itoa(int64(other)) + "/8")}))
	o.AddRecord(rec(other, 8, ref, key, "2"))
	o.AddRecord(rec(other, 9, ref, key, "3")) // never moved: still expected
	st := o.Stats()
	if st.Distinct != 3 || st.Moved != 2 || st.Unmoved != 1 || st.Duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Kafka's murmur2 of known keys (values from the Java client).
	for _, c := range []struct {
		key  string
		want int32
	}{{"21", -973932308}, {"foobar", -790332482}, {"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829}, {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971}, {"abc", 479470107}} {
		if got := int32(murmur2([]byte(c.key))); got != c.want {
			t.Errorf("murmur2(%q) = %d, want %d", c.key, got, c.want)
		}
	}
}

// TestImports: the oracle shares no code with what it judges.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/countlab/countlab/") && dep != "github.com/countlab/countlab/sim/oracle" {
			t.Errorf("sim/oracle depends on %s: the truth must not share the judged code", dep)
		}
		if strings.Contains(dep, ".") && !strings.HasPrefix(dep, "github.com/countlab/countlab") &&
			!strings.HasPrefix(dep, "google.golang.org/protobuf/encoding/protowire") && !strings.HasPrefix(dep, "google.golang.org/protobuf/internal/") {
			t.Errorf("sim/oracle depends on %s: stdlib and protowire only", dep)
		}
	}
}
