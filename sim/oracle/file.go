package oracle

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"
)

// The truth file: gzip of a magic line, then uvarints: the window sizes,
// the stats, the mismatches, the string table, and the windows sorted by
// (late, size, type, key, dims, start) with the start delta-encoded. The
// per-identity dedup state is not kept: a loaded oracle is for checking.
const fileMagic = "countlab-truth v1\n"

// Save writes the oracle to path (atomically: a temporary file renamed).
func (o *Oracle) Save(path string) error {
	return writeAtomic(path, ".truth-*", o.Encode)
}

// writeAtomic writes path through a temporary file in its directory,
// renamed over it once write and the close have succeeded.
func writeAtomic(path, pattern string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(dirOf(path), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}

type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) u(v uint64)  { e.w.Write(e.buf[:binary.PutUvarint(e.buf[:], v)]) }
func (e *encoder) i(v int64)   { e.w.Write(e.buf[:binary.PutVarint(e.buf[:], v)]) }
func (e *encoder) s(v string)  { e.u(uint64(len(v))); e.w.WriteString(v) }
func (e *encoder) f(v float64) { e.u(math.Float64bits(v)) }

// Encode writes the oracle's truth file form to w.
func (o *Oracle) Encode(w io.Writer) error {
	o.lock()
	defer o.mu.Unlock()
	o.flush()
	zw := gzip.NewWriter(w)
	e := &encoder{w: bufio.NewWriter(zw)}
	e.w.WriteString(fileMagic)
	e.u(uint64(len(o.cfg.sizes)))
	for _, s := range o.cfg.sizes {
		e.i(s)
	}
	st := o.stats
	for _, v := range []int64{st.Distinct, st.Late, st.Duplicates, st.Failed, st.Moved, st.Unmoved, st.Mismatches} {
		e.i(v)
	}
	codes := make([]string, 0, len(st.Refused))
	for c := range st.Refused {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	e.u(uint64(len(codes)))
	for _, c := range codes {
		e.s(c)
		e.i(st.Refused[c])
	}
	e.u(uint64(len(o.mismatches)))
	for _, m := range o.mismatches {
		for _, s := range []string{m.Kind, m.Want, m.Got, m.Key, m.ID} {
			e.s(s)
		}
	}
	e.u(uint64(len(o.strs)))
	for _, s := range o.strs {
		e.s(s)
	}
	keys := make([]wkey, 0, len(o.windows))
	for k := range o.windows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b wkey) int {
		return cmp.Or(cmp.Compare(boolInt(a.late), boolInt(b.late)), cmp.Compare(a.size, b.size), cmp.Compare(a.typ, b.typ),
			cmp.Compare(a.key, b.key), cmp.Compare(a.dims, b.dims), cmp.Compare(a.start, b.start))
	})
	e.u(uint64(len(keys)))
	var prev wkey
	for i, k := range keys {
		series := i == 0 || k.late != prev.late || k.size != prev.size || k.typ != prev.typ || k.key != prev.key || k.dims != prev.dims
		if series {
			e.u(1)
			e.u(uint64(boolInt(k.late)))
			e.u(uint64(k.size))
			e.u(uint64(k.typ))
			e.u(uint64(k.key))
			e.u(uint64(k.dims))
			e.i(k.start)
		} else {
			e.u(0)
			e.i(k.start - prev.start)
		}
		t := o.windows[k]
		e.i(t.Count)
		e.f(t.Sum)
		prev = k
	}
	if err := e.w.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Load reads a truth file written by Save.
func Load(path string) (*Oracle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

type decoder struct {
	r   *bufio.Reader
	err error
}

func (d *decoder) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	d.err = err
	return v
}

func (d *decoder) i() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	d.err = err
	return v
}

// n reads a count, bounded so a corrupt file cannot ask for huge memory.
func (d *decoder) n(max uint64) int {
	v := d.u()
	if v > max && d.err == nil {
		d.err = fmt.Errorf("count %d over %d", v, max)
	}
	return int(min(v, max))
}

func (d *decoder) s() string {
	n := d.n(1 << 20)
	if d.err != nil {
		return ""
	}
	b := make([]byte, n)
	_, d.err = io.ReadFull(d.r, b)
	return string(b)
}

// Read reads the truth file form written by Encode.
func Read(r io.Reader) (*Oracle, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("oracle: not a truth file: %w", err)
	}
	d := &decoder{r: bufio.NewReader(zr)}
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != fileMagic {
		return nil, errors.New("oracle: not a truth file (want " + fileMagic[:len(fileMagic)-1] + ")")
	}
	var c Config
	for range d.n(255) {
		c.Windows = append(c.Windows, time.Duration(d.i())*time.Millisecond)
	}
	if d.err != nil {
		return nil, fmt.Errorf("oracle: truth file: %w", d.err)
	}
	c.DedupHorizon = time.Duration(math.MaxInt64)
	o, err := New(c)
	if err != nil {
		return nil, fmt.Errorf("oracle: truth file: %w", err)
	}
	st := &o.stats
	for _, p := range []*int64{&st.Distinct, &st.Late, &st.Duplicates, &st.Failed, &st.Moved, &st.Unmoved, &st.Mismatches} {
		*p = d.i()
	}
	for range d.n(64) {
		c := d.s()
		st.Refused[c] = d.i()
	}
	for range d.n(maxMismatches) {
		var m Mismatch
		for _, p := range []*string{&m.Kind, &m.Want, &m.Got, &m.Key, &m.ID} {
			*p = d.s()
		}
		o.mismatches = append(o.mismatches, m)
	}
	nstr := d.n(1 << 32)
	for range nstr {
		o.intern(d.s())
		if d.err != nil {
			break
		}
	}
	nwin := d.n(1 << 40)
	var k wkey
	for range nwin {
		if d.u() == 1 {
			k = wkey{late: d.u() == 1, size: uint8(d.u()), typ: uint32(d.u()), key: uint32(d.u()), dims: uint32(d.u()), start: d.i()}
		} else {
			k.start += d.i()
		}
		t := &Total{Count: d.i(), Sum: math.Float64frombits(d.u())}
		if d.err != nil {
			break
		}
		if int(k.size) >= len(o.cfg.sizes) || int(k.typ) >= len(o.strs) || int(k.key) >= len(o.strs) || int(k.dims) >= len(o.strs) {
			return nil, errors.New("oracle: truth file: a window refers to an unknown size or string")
		}
		o.windows[k] = t
	}
	if d.err != nil {
		return nil, fmt.Errorf("oracle: truth file: %w", d.err)
	}
	return o, nil
}
