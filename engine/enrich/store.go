package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the embedded on-disk store of entity versions: one bbolt file.
//
// Why bbolt: the workload is point-in-time lookups (the last version of an
// entity before a time), which is a B+tree seek and one step back on a
// cursor over keys (entity, effective time) in order; reads are lock-free
// MVCC transactions on a memory-mapped file, so lookups cost no syscall;
// an Update is ACID, so the versions of a fetch and the topic offsets
// they advance to are durable together, which is what makes resuming
// after a restart exact. It is pure Go (no cgo), one package, MIT, the
// store of etcd. Pebble (an LSM) writes faster but reads through levels,
// has compactions to tune and is a far larger dependency; metadata is
// read far more often than it changes.
//
// The file is a cache of the metadata topic: it is opened with NoSync (a
// process crash loses nothing, the page cache survives it; a machine
// crash may lose the last updates, and the consumed offsets with them, so
// they are fetched again), and a file that does not open is removed and
// rebuilt from the topic.
//
// Methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

var (
	bucketVersions = []byte("versions")
	bucketOffsets  = []byte("offsets")
)

// OpenStore opens (or creates) the store at path. A file that bbolt cannot
// open is removed and created anew (rebuilt reports that).
func OpenStore(path string) (s *Store, rebuilt bool, err error) {
	open := func() (*bolt.DB, error) {
		return bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: true, NoFreelistSync: true})
	}
	_, statErr := os.Stat(path)
	db, err := open()
	if err != nil && statErr == nil && !errors.Is(err, bolt.ErrTimeout) {
		if rmErr := os.Remove(path); rmErr != nil {
			return nil, false, fmt.Errorf("enrich: store %s unreadable (%v) and not removable: %w", path, err, rmErr)
		}
		rebuilt = true
		db, err = open()
	}
	if err != nil {
		return nil, false, fmt.Errorf("enrich: open store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketVersions); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketOffsets)
		return err
	}); err != nil {
		db.Close()
		return nil, false, fmt.Errorf("enrich: init store %s: %w", path, err)
	}
	return &Store{db: db, path: path}, rebuilt || statErr != nil, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// versionKey is entity, 0x00, the effective time big-endian with the sign
// bit flipped (so negative times sort first): keys sort by (entity, time).
func versionKey(dst []byte, entity string, ts int64) []byte {
	dst = append(dst, entity...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

func encodeAttrs(dst []byte, as []Attr) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(as)))
	for _, a := range as {
		dst = binary.AppendUvarint(dst, uint64(len(a.Name)))
		dst = append(dst, a.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst
}

func decodeAttrs(b []byte) ([]Attr, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > MaxAttrs {
		return nil, errors.New("enrich: corrupt version")
	}
	b = b[k:]
	out := make([]Attr, 0, n)
	str := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for range n {
		name, ok1 := str()
		val, ok2 := str()
		if !ok1 || !ok2 {
			return nil, errors.New("enrich: corrupt version")
		}
		out = append(out, Attr{name, val})
	}
	return out, nil
}

// Apply stores recs (later ones replace earlier ones of the same entity
// and effective time) and the next offsets to consume per metadata
// partition, in one transaction.
func (s *Store) Apply(recs []Record, next map[int32]int64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		vb := tx.Bucket(bucketVersions)
		for i := range recs {
			// bbolt keeps key and value until the commit: fresh slices.
			r := &recs[i]
			if err := vb.Put(versionKey(nil, r.Entity, r.TS), encodeAttrs(nil, r.Attrs)); err != nil {
				return err
			}
		}
		ob := tx.Bucket(bucketOffsets)
		for p, o := range next {
			var k [4]byte
			binary.BigEndian.PutUint32(k[:], uint32(p))
			if err := ob.Put(k[:], binary.BigEndian.AppendUint64(nil, uint64(o))); err != nil {
				return err
			}
		}
		return nil
	})
}

// Offsets are the next offsets to consume per metadata partition, as the
// last Apply left them.
func (s *Store) Offsets() (map[int32]int64, error) {
	out := map[int32]int64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOffsets).ForEach(func(k, v []byte) error {
			if len(k) != 4 || len(v) != 8 {
				return errors.New("enrich: corrupt offset")
			}
			out[int32(binary.BigEndian.Uint32(k))] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	})
	return out, err
}

// Lookup returns the entity's last version whose effective time is before
// `before` (unix ms), and whether there is one.
func (s *Store) Lookup(entity string, before int64) (Record, bool, error) {
	var out Record
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, found, err = lookup(tx, entity, before)
		return err
	})
	return out, found, err
}

// Lookups runs fn with a lookup function reading one consistent snapshot
// (one read transaction for many lookups).
func (s *Store) Lookups(fn func(lookup func(entity string, before int64) (Record, bool, error)) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return fn(func(entity string, before int64) (Record, bool, error) { return lookup(tx, entity, before) })
	})
}

func lookup(tx *bolt.Tx, entity string, before int64) (Record, bool, error) {
	c := tx.Bucket(bucketVersions).Cursor()
	seek := versionKey(make([]byte, 0, len(entity)+9), entity, before)
	k, v := c.Seek(seek)
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k == nil || len(k) != len(entity)+9 || string(k[:len(entity)]) != entity || k[len(entity)] != 0 {
		return Record{}, false, nil
	}
	as, err := decodeAttrs(v)
	if err != nil {
		return Record{}, false, err
	}
	ts := int64(binary.BigEndian.Uint64(k[len(entity)+1:]) ^ (1 << 63))
	return Record{Entity: entity, TS: ts, Attrs: as}, true, nil
}

// Span is the attributes in effect from From on (until the next span),
// one value per name asked for (Unknown: no version, a deletion, or a
// version without the attribute).
type Span struct {
	From   int64
	Values []string
}

// Spans returns the values of attributes names of entity over the event
// times [from, to): the first span starts at from (the version in effect
// at from: the last one effective at or before it), then one span per
// version effective in (from, to), in time order. An event at t takes the
// values of the last span with From <= t. One read transaction.
func (s *Store) Spans(entity string, from, to int64, names []string) ([]Span, error) {
	var out []Span
	err := s.db.View(func(tx *bolt.Tx) error {
		values := func(v []byte, ok bool) ([]string, error) {
			vals := make([]string, len(names))
			var as []Attr
			if ok {
				var err error
				if as, err = decodeAttrs(v); err != nil {
					return nil, err
				}
			}
			r := Record{Attrs: as}
			for i, n := range names {
				vals[i] = r.Get(n)
			}
			return vals, nil
		}
		c := tx.Bucket(bucketVersions).Cursor()
		seek := versionKey(make([]byte, 0, len(entity)+9), entity, from+1)
		mine := func(k []byte) bool {
			return k != nil && len(k) == len(entity)+9 && string(k[:len(entity)]) == entity && k[len(entity)] == 0
		}
		k, _ := c.Seek(seek)
		var pk, pv []byte
		if k == nil {
			pk, pv = c.Last()
		} else {
			pk, pv = c.Prev()
		}
		vals, err := values(pv, mine(pk))
		if err != nil {
			return err
		}
		out = append(out, Span{From: from, Values: vals})
		for k, v := c.Seek(seek); mine(k); k, v = c.Next() {
			ts := int64(binary.BigEndian.Uint64(k[len(entity)+1:]) ^ (1 << 63))
			if ts >= to {
				break
			}
			if vals, err = values(v, true); err != nil {
				return err
			}
			out = append(out, Span{From: ts, Values: vals})
		}
		return nil
	})
	return out, err
}

// Versions is the number of versions stored.
func (s *Store) Versions() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketVersions).Stats().KeyN
		return nil
	})
	return n, err
}

// FileBytes is the size of the store's file.
func (s *Store) FileBytes() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
