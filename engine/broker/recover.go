package broker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// This file repairs a kfake data dir after a crash (kill -9), before kfake
// loads it. It depends on kfake's on-disk format (persist.go, version 1):
//
//   - partitions/<url-escaped topic>-<partition>/<base>.dat hold raw Kafka
//     record batches; <base>.idx hold one 15-byte entry per batch (epoch,
//     timestamp, inTx flag), matched to batches by position.
//   - seq_windows.json holds the idempotent producers' sequence windows; kfake
//     writes it only on a clean Close.
//
// Two things go wrong after a crash, and both are fixed here:
//
//  1. The sequence windows are stale (from the last clean Close, or empty),
//     so kfake takes a retried batch that it had already written before the
//     crash (its acknowledgement lost) as new: a duplicate. We rebuild the
//     windows from the batches in the segment files, as Kafka rebuilds its
//     producer state from its log.
//  2. A crash between the two write calls for one batch leaves a batch in
//     the .dat file without its .idx entry; the next entry appended would
//     then be read for the wrong batch (a transactional batch read as not
//     transactional). Such a batch was never acknowledged, so we drop it
//     from the .dat file.

const (
	cleanMarker    = "countlab-clean-shutdown"
	idxEntrySize   = 15
	batchHeaderLen = 61
	seqWindowsFile = "seq_windows.json"
	seqWindowsVer  = 1
	windowSize     = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// prepareDataDir creates dir, repairs it if the last run did not close it
// cleanly, and marks it in use (not clean) until Close.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("broker: data dir: %w", err)
	}
	_, metaErr := os.Stat(filepath.Join(dir, "meta.json"))
	_, cleanErr := os.Stat(filepath.Join(dir, cleanMarker))
	if os.Getenv("NORECOVER") == "" && metaErr == nil && errors.Is(cleanErr, os.ErrNotExist) {
		n, err := recoverDataDir(dir)
		if err != nil {
			return fmt.Errorf("broker: recover data dir %s after unclean shutdown: %w", dir, err)
		}
		log.Warn("broker: data dir was not closed cleanly; rebuilt producer sequence state from the log",
			"data_dir", dir, "producer_windows", n)
	}
	if err := os.Remove(filepath.Join(dir, cleanMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("broker: data dir: %w", err)
	}
	return syncDir(dir)
}

// markClean records that the data dir was closed cleanly.
func markClean(dir string) error {
	f, err := os.Create(filepath.Join(dir, cleanMarker))
	if err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// seqWindows mirrors kfake's persistSeqWindows (version 1, entries format).
type seqWindows struct {
	Version int         `json:"version"`
	Windows []seqWindow `json:"windows"`
}

type seqWindow struct {
	PID     int64              `json:"pid"`
	Topic   string             `json:"topic"`
	Part    int32              `json:"partition"`
	Entries [windowSize]seqEnt `json:"entries,omitempty"`
	Count   uint8              `json:"count,omitempty"`
	At      uint8              `json:"at"`
	Epoch   int16              `json:"epoch"`
	Seen    bool               `json:"seen,omitempty"`
	NextSeq int32              `json:"next_seq,omitempty"`
}

type seqEnt struct {
	FirstSeq int32 `json:"first_seq"`
	NextSeq  int32 `json:"next_seq"`
	Offset   int64 `json:"offset"`
}

type windowKey struct {
	pid   int64
	topic string
	part  int32
}

// push applies one accepted batch the way kfake's pidwindow.pushAndValidate
// does.
func (w *seqWindow) push(epoch int16, firstSeq, numRecs int32, offset int64) {
	next := int32((int64(firstSeq) + int64(numRecs)) % math.MaxInt32)
	if !w.Seen || epoch != w.Epoch {
		w.Seen, w.Epoch, w.NextSeq = true, epoch, next
		w.Entries = [windowSize]seqEnt{{firstSeq, next, offset}}
		w.At, w.Count = 1, 1
		return
	}
	w.NextSeq = next
	w.Entries[w.At] = seqEnt{firstSeq, next, offset}
	w.At = (w.At + 1) % windowSize
	if w.Count < windowSize {
		w.Count++
	}
}

func (w *seqWindow) lastOffset() int64 {
	last := int64(-1)
	for _, e := range w.Entries[:w.Count] {
		last = max(last, e.Offset)
	}
	return last
}

// recoverDataDir repairs the segment files and rewrites seq_windows.json
// from them. It returns the number of producer windows written.
func recoverDataDir(dir string) (int, error) {
	rebuilt := make(map[windowKey]*seqWindow)
	pdirs, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	for _, pd := range pdirs {
		if !pd.IsDir() {
			continue
		}
		topic, part, ok := parsePartDir(pd.Name())
		if !ok {
			continue
		}
		if err := scanPartition(filepath.Join(dir, "partitions", pd.Name()), topic, part, rebuilt); err != nil {
			return 0, err
		}
	}

	path := filepath.Join(dir, seqWindowsFile)
	var old seqWindows
	if raw, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(raw, &old); err != nil {
			return 0, fmt.Errorf("%s: %w", seqWindowsFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	out := seqWindows{Version: seqWindowsVer}
	for _, w := range old.Windows {
		k := windowKey{w.PID, w.Topic, w.Part}
		// A window saved at the last clean Close is newer than what the
		// log holds only if the log lost those batches (compaction or
		// retention): keep the saved one then.
		if r, ok := rebuilt[k]; ok && r.lastOffset() >= w.lastOffset() {
			continue
		}
		delete(rebuilt, k)
		out.Windows = append(out.Windows, w)
	}
	for _, w := range rebuilt {
		out.Windows = append(out.Windows, *w)
	}
	slices.SortFunc(out.Windows, func(a, b seqWindow) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if a.Part != b.Part {
			return int(a.Part - b.Part)
		}
		return int(a.PID - b.PID)
	})
	return len(out.Windows), writeFileAtomic(path, out)
}

func writeFileAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// parsePartDir splits "<url-escaped topic>-<partition>".
func parsePartDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	topic, err := url.PathUnescape(name[:i])
	if err != nil {
		return "", 0, false
	}
	return topic, int32(p), true
}

// scanPartition walks the partition's segments in offset order, drops a
// trailing batch that has no index entry, and pushes every idempotent data
// batch into its producer's window.
func scanPartition(pdir, topic string, part int32, windows map[windowKey]*seqWindow) error {
	ents, err := os.ReadDir(pdir)
	if err != nil {
		return err
	}
	var bases []int64
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".dat"); ok {
			if b, err := strconv.ParseInt(n, 10, 64); err == nil {
				bases = append(bases, b)
			}
		}
	}
	slices.Sort(bases)
	for _, base := range bases {
		datPath := filepath.Join(pdir, strconv.FormatInt(base, 10)+".dat")
		raw, err := os.ReadFile(datPath)
		if err != nil {
			return err
		}
		idxLen := int64(0)
		if st, err := os.Stat(filepath.Join(pdir, strconv.FormatInt(base, 10)+".idx")); err == nil {
			idxLen = st.Size()
		}
		nIdx := int(idxLen / idxEntrySize)

		pos, n := 0, 0
		for pos+batchHeaderLen <= len(raw) {
			size := 12 + int(int32(binary.BigEndian.Uint32(raw[pos+8:pos+12])))
			if size < batchHeaderLen || pos+size > len(raw) {
				break
			}
			b := raw[pos : pos+size]
			if binary.BigEndian.Uint32(b[17:21]) != crc32.Checksum(b[21:], castagnoli) {
				break
			}
			if n >= nIdx {
				// Written, never acknowledged: its index entry is missing.
				break
			}
			pushBatch(b, topic, part, windows)
			pos += size
			n++
		}
		if pos < len(raw) {
			// kfake would truncate a corrupt tail itself; we also cut a
			// batch whose index entry is missing.
			if err := os.Truncate(datPath, int64(pos)); err != nil {
				return err
			}
		}
	}
	return nil
}

func pushBatch(b []byte, topic string, part int32, windows map[windowKey]*seqWindow) {
	attrs := int16(binary.BigEndian.Uint16(b[21:23]))
	if attrs&0x20 != 0 { // control batch: transaction marker, no sequence
		return
	}
	baseOffset := int64(binary.BigEndian.Uint64(b[0:8]))
	pid := int64(binary.BigEndian.Uint64(b[43:51]))
	epoch := int16(binary.BigEndian.Uint16(b[51:53]))
	firstSeq := int32(binary.BigEndian.Uint32(b[53:57]))
	numRecs := int32(binary.BigEndian.Uint32(b[57:61]))
	if pid < 0 || firstSeq < 0 {
		return
	}
	k := windowKey{pid, topic, part}
	w := windows[k]
	if w == nil {
		w = &seqWindow{PID: pid, Topic: topic, Part: part}
		windows[k] = w
	}
	w.push(epoch, firstSeq, numRecs, baseOffset)
}
