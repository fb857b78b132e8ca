package oracle

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// ErrShardsOverlap is the error of a Merge of truths that acknowledged
// the same identity.
var ErrShardsOverlap = errors.New("the shards overlap")

// Merge adds the truth of src, another shard of the same run, to o: the
// window totals (exactly: counts add, and a window's sum is the sum of
// the shards' sums of disjoint events), the stats, the mismatches (the
// first 100 kept) and the acknowledged identities (key, id). The shards of
// a run send disjoint identities by construction (sim.Shard); an identity
// acknowledged in both is a cross-shard duplicate the engine would drop
// and the sum of the shards' truths counts twice: Merge adds it to the
// duplicates and returns an error (the merge is done, but its windows
// count that event in both shards: the merged truth is not to be used).
//
// Both oracles must be in sim mode (fed by Add, or loaded) with the same
// window sizes; src is not changed.
func (o *Oracle) Merge(src *Oracle) error {
	if o == src {
		return errors.New("oracle: merge with itself")
	}
	o.lock()
	defer o.mu.Unlock()
	src.lock()
	defer src.mu.Unlock()
	if !slices.Equal(o.cfg.sizes, src.cfg.sizes) {
		return fmt.Errorf("oracle: merge: window sizes differ (%v and %v ms)", o.cfg.sizes, src.cfg.sizes)
	}
	if len(o.parts) > 0 || len(src.parts) > 0 {
		return errors.New("oracle: merge: only the truths of sent events merge (not a log's)")
	}
	var cross int64
	src.eachSeen(func(id fingerprint) {
		if o.seenHas(id) {
			cross++
			return
		}
		o.seen.add(id)
	})
	for k, t := range src.windows {
		k.key, k.typ, k.dims = o.intern(src.strs[k.key]), o.intern(src.strs[k.typ]), o.intern(src.strs[k.dims])
		a := o.windows[k]
		if a == nil {
			a = &Total{}
			o.windows[k] = a
		}
		a.Count += t.Count
		a.Sum += t.Sum
	}
	s, d := &src.stats, &o.stats
	d.Distinct += s.Distinct
	d.Late += s.Late
	d.Duplicates += s.Duplicates + cross
	d.Failed += s.Failed
	d.Moved += s.Moved
	d.Unmoved += s.Unmoved
	d.Mismatches += s.Mismatches
	for c, n := range s.Refused {
		d.Refused[c] += n
	}
	for _, m := range src.mismatches {
		if len(o.mismatches) < maxMismatches {
			o.mismatches = append(o.mismatches, m)
		}
	}
	if cross > 0 {
		return fmt.Errorf("oracle: merge: %d identities (key, id) acknowledged in both shards: %w", cross, ErrShardsOverlap)
	}
	return nil
}

// Identities is how many acknowledged identities (key, id) the oracle
// holds (sim mode; a loaded truth holds those of its identities file).
func (o *Oracle) Identities() int {
	o.lock()
	defer o.mu.Unlock()
	return o.seenLen()
}

// The identities file: gzip of a magic line, a uvarint count, then each
// acknowledged identity's 128-bit fingerprint (16 bytes, little-endian
// halves), sorted. It goes with a truth file (which keeps no per-identity
// state) so that the truths of shards merge with their identities.
const idsMagic = "countlab-identities v1\n"

// SaveIdentities writes the acknowledged identities to path (atomically).
func (o *Oracle) SaveIdentities(path string) error {
	o.lock()
	ids := make([]fingerprint, 0, o.seenLen())
	o.eachSeen(func(id fingerprint) { ids = append(ids, id) })
	o.mu.Unlock()
	slices.SortFunc(ids, func(a, b fingerprint) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	return writeAtomic(path, ".ids-*", func(f io.Writer) error {
		zw := gzip.NewWriter(f)
		w := bufio.NewWriter(zw)
		w.WriteString(idsMagic)
		var b [binary.MaxVarintLen64]byte
		w.Write(b[:binary.PutUvarint(b[:], uint64(len(ids)))])
		for _, id := range ids {
			w.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b[:0], id[0]), id[1]))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return zw.Close()
	})
}

// LoadIdentities adds the identities of a file written by SaveIdentities
// to o (a loaded truth, before Merge).
func (o *Oracle) LoadIdentities(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("oracle: %s: not an identities file: %w", path, err)
	}
	r := bufio.NewReader(zr)
	magic := make([]byte, len(idsMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != idsMagic {
		return fmt.Errorf("oracle: %s: not an identities file", path)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<36 {
		return fmt.Errorf("oracle: %s: bad identity count", path)
	}
	var b [16]byte
	o.lock()
	defer o.mu.Unlock()
	for range n {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return fmt.Errorf("oracle: %s: %w", path, err)
		}
		o.seen.add(fingerprint{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])})
	}
	return nil
}
