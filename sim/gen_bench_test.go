package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// steady50kConfig is the generator of scenarios/steady-50k.yaml: 10,000
// Zipf keys (s 1.1), VIEW 9 : CLICK 1, 1% duplicates.
func steady50kConfig(b *testing.B) Config {
	z, err := NewZipf(10_000, 1.1)
	if err != nil {
		b.Fatal(err)
	}
	return Config{
		Seed: 50, IDPrefix: "e-", Start: time.UnixMilli(1_700_000_000_000), Keys: z,
		Types:      []TypeSpec{{Name: "VIEW", Weight: 9, Values: UniformInt{1, 100}}, {Name: "CLICK", Weight: 1, Values: Fixed(1)}},
		Duplicates: Duplicates{Fraction: 0.01},
	}
}

// BenchmarkZipf is one key draw over steady-50k's 10,000 keys.
func BenchmarkZipf(b *testing.B) {
	z, err := NewZipf(10_000, 1.1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var sum uint64
	for b.Loop() {
		sum += z.Next(r, 0)
	}
	if sum == 0 {
		b.Fatal("no draws")
	}
}

// BenchmarkGenerate50k is the sender's side of steady-50k per event: the
// generator's item, drawn into a recycled batch as the schedule does, and
// its protobuf encoding as the gateway transport does.
func BenchmarkGenerate50k(b *testing.B) {
	g, err := NewGenerator(steady50kConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	src := newStream(g, NewSchedule(Constant(50_000), false, 1), Shard{}, time.Hour)
	b.ReportAllocs()
	batch := make([]Item, 0, 2000)
	var buf []byte
	for b.Loop() {
		if len(batch) == cap(batch) {
			buf = buf[:0]
			for i := range batch {
				buf = appendProtoItem(buf, &batch[i])
			}
			batch = batch[:0]
		}
		batch = batch[:len(batch)+1]
		src.takeInto(&batch[len(batch)-1])
	}
}

// TestZipfAliasMass: the alias table gives every key its probability:
// the widths of the cells' parts that draw key i sum to n*Prob(i).
func TestZipfAliasMass(t *testing.T) {
	for _, c := range []struct {
		n int
		s float64
	}{{1, 1}, {2, 0.5}, {100, 1.1}, {10_000, 1.1}, {10_000, 2.5}, {50_000, 0.01}} {
		z, err := NewZipf(c.n, c.s)
		if err != nil {
			t.Fatal(err)
		}
		mass := make([]float64, c.n)
		for i, cell := range z.cells {
			own := float64(cell.thresh) / (1 << 64)
			mass[i] += own
			mass[cell.alias] += 1 - own
		}
		for i := range mass {
			if want := z.Prob(i) * float64(c.n); math.Abs(mass[i]-want) > 1e-9*max(1, want) {
				t.Fatalf("n %d s %v: key %d gets width %v, want %v", c.n, c.s, i, mass[i], want)
			}
		}
	}
}
