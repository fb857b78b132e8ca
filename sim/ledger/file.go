package ledger

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// fileFormat is the on-disk form: a gob of the interned strings and the
// windows, with the event counts. The ids seen are not kept: a loaded
// ledger is for checking, not for adding more events.
type fileFormat struct {
	Version int
	Sizes   []int64
	Strs    []string
	Windows []fileWindow
	Events  int64
	Late    int64
	Dups    int64
}

type fileWindow struct {
	Start          int64
	Key, Typ, Dims uint32
	Size           uint16
	Late           bool
	Agg            Agg
}

const fileVersion = 1

// Encode writes the ledger to w (gob); Read reads it back.
func (l *Ledger) Encode(w io.Writer) error {
	l.mu.Lock()
	f := fileFormat{Version: fileVersion, Sizes: l.sizes, Strs: l.strs, Events: l.events, Late: l.late, Dups: l.dups,
		Windows: make([]fileWindow, 0, len(l.windows))}
	for k, a := range l.windows {
		f.Windows = append(f.Windows, fileWindow{Start: k.start, Key: k.key, Typ: k.typ, Dims: k.dims, Size: k.size, Late: k.late, Agg: *a})
	}
	err := gob.NewEncoder(w).Encode(&f)
	l.mu.Unlock()
	return err
}

// Read reads a ledger written by Encode.
func Read(r io.Reader) (*Ledger, error) {
	var f fileFormat
	if err := gob.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("ledger: decoding: %w", err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("ledger: file version %d, want %d", f.Version, fileVersion)
	}
	l := &Ledger{sizes: f.Sizes, strs: f.Strs, strID: make(map[string]uint32, len(f.Strs)), seen: map[uint64]struct{}{},
		windows: make(map[wkey]*Agg, len(f.Windows)), events: f.Events, late: f.Late, dups: f.Dups}
	for i, s := range f.Strs {
		l.strID[s] = uint32(i)
	}
	for _, w := range f.Windows {
		if int(w.Key) >= len(f.Strs) || int(w.Typ) >= len(f.Strs) || int(w.Dims) >= len(f.Strs) || int(w.Size) >= len(f.Sizes) {
			return nil, errors.New("ledger: corrupt file: a window refers to a missing string or size")
		}
		a := w.Agg
		l.windows[wkey{start: w.Start, key: w.Key, typ: w.Typ, dims: w.Dims, size: w.Size, late: w.Late}] = &a
	}
	return l, nil
}

// Save writes the ledger to the file path.
func (l *Ledger) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := l.Encode(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Load reads the ledger file path.
func Load(path string) (*Ledger, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(bufio.NewReader(f))
}

// Range is the span of window starts of the ledger: the first start and
// the last window's end over every size; zero times when empty.
func (l *Ledger) Range() (from, to time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lo, hi int64
	first := true
	for k := range l.windows {
		end := k.start + l.sizes[k.size]
		if first || k.start < lo {
			lo = k.start
		}
		if first || end > hi {
			hi = end
		}
		first = false
	}
	if first {
		return time.Time{}, time.Time{}
	}
	return time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
}
