package broker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
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
//   - pids.log is an append log of producer id entries (txnrecover.go).
//
// The data dir holds the file countlab-clean-shutdown only between a clean
// Close and the next New; without it, New repairs the dir. Three things go
// wrong after a crash, and all are fixed here:
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
//  3. A transaction open at the crash has no marker (txnrecover.go).

const (
	cleanMarker    = "countlab-clean-shutdown"
	idxEntrySize   = 15
	batchHeaderLen = 61
	seqWindowsFile = "seq_windows.json"
	seqWindowsVer  = 1
	windowSize     = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// prepareDataDir repairs dir if the last run did not close it cleanly, and
// marks it in use (not clean) until Close.
func prepareDataDir(dir string, log *slog.Logger) error {
	_, metaErr := os.Stat(filepath.Join(dir, "meta.json"))
	_, cleanErr := os.Stat(filepath.Join(dir, cleanMarker))
	if metaErr == nil && errors.Is(cleanErr, os.ErrNotExist) {
		rec, err := recoverDataDir(dir)
		if err != nil {
			return fmt.Errorf("broker: recover data dir %s after unclean shutdown: %w", dir, err)
		}
		log.Warn("broker: data dir was not closed cleanly; rebuilt producer sequence state from the log",
			"data_dir", dir, "producer_windows", rec.windows, "open_transactions", len(rec.txns))
		for _, t := range rec.txns {
			log.Warn("broker: finished a transaction left open by the crash",
				"topic", t.topic, "partition", t.part, "producer_id", t.pid, "epoch", t.epoch, "commit", t.commit)
		}
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

// recoverDataDir repairs the segment files, finishes the transactions that
// were open at the crash, and rewrites seq_windows.json from the log.
func recoverDataDir(dir string) (recovery, error) {
	var rec recovery
	windows := make(map[windowKey]*seqWindow)
	markers := make(map[txnKey]bool)
	pdirs, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return rec, err
	}
	var scans []*partScan
	for _, pd := range pdirs {
		if !pd.IsDir() {
			continue
		}
		topic, part, ok := parsePartDir(pd.Name())
		if !ok {
			continue
		}
		ps := &partScan{dir: filepath.Join(dir, "partitions", pd.Name()), topic: topic, part: part, lastBase: -1}
		if err := ps.scan(windows, markers); err != nil {
			return rec, fmt.Errorf("partition %s-%d: %w", topic, part, err)
		}
		scans = append(scans, ps)
	}
	if rec.txns, err = finishOpenTxns(dir, scans, markers); err != nil {
		return rec, err
	}
	rec.windows, err = writeSeqWindows(dir, windows)
	return rec, err
}

// recovery says what recoverDataDir did.
type recovery struct {
	windows int          // producer sequence windows written
	txns    []txnOutcome // transactions open at the crash, and how they ended
}

// partScan is what one partition's log holds at its end.
type partScan struct {
	dir, topic  string
	part        int32
	lastBase    int64           // base offset of the last segment, -1: none
	next        int64           // offset of the next batch
	leaderEpoch int32           // partition leader epoch of the last batch
	open        map[int64]int16 // producer id -> epoch of its open transaction
}

// scan walks the partition's segments in offset order, drops a trailing
// batch that has no index entry, pushes every idempotent data batch into
// its producer's window, notes every transaction marker, and keeps the
// transactions that have data but no marker yet.
func (ps *partScan) scan(windows map[windowKey]*seqWindow, markers map[txnKey]bool) error {
	ents, err := os.ReadDir(ps.dir)
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
	ps.open = make(map[int64]int16)
	for _, base := range bases {
		ps.lastBase = base
		datPath := filepath.Join(ps.dir, segmentName(base, ".dat"))
		raw, err := os.ReadFile(datPath)
		if err != nil {
			return err
		}
		idxLen := int64(0)
		if st, err := os.Stat(filepath.Join(ps.dir, segmentName(base, ".idx"))); err == nil {
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
			ps.batch(b, windows, markers)
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

func (ps *partScan) batch(b []byte, windows map[windowKey]*seqWindow, markers map[txnKey]bool) {
	h := parseBatchHeader(b)
	ps.next = h.baseOffset + int64(h.lastOffsetDelta) + 1
	ps.leaderEpoch = h.leaderEpoch
	switch {
	case h.control():
		delete(ps.open, h.pid)
		k := txnKey{h.pid, h.epoch}
		markers[k] = markers[k] || isCommitMarker(b)
	case h.pid >= 0:
		if h.transactional() {
			if _, ok := ps.open[h.pid]; !ok {
				ps.open[h.pid] = h.epoch
			}
		}
		pushWindow(windows, h, ps.topic, ps.part)
	}
}

// batchHeader is the fixed part of a v2 record batch.
type batchHeader struct {
	baseOffset      int64
	leaderEpoch     int32
	attrs           int16
	lastOffsetDelta int32
	pid             int64
	epoch           int16
	firstSeq        int32
	numRecs         int32
}

func parseBatchHeader(b []byte) batchHeader {
	return batchHeader{
		baseOffset:      int64(binary.BigEndian.Uint64(b[0:8])),
		leaderEpoch:     int32(binary.BigEndian.Uint32(b[12:16])),
		attrs:           int16(binary.BigEndian.Uint16(b[21:23])),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[23:27])),
		pid:             int64(binary.BigEndian.Uint64(b[43:51])),
		epoch:           int16(binary.BigEndian.Uint16(b[51:53])),
		firstSeq:        int32(binary.BigEndian.Uint32(b[53:57])),
		numRecs:         int32(binary.BigEndian.Uint32(b[57:61])),
	}
}

func (h batchHeader) control() bool       { return h.attrs&0x20 != 0 }
func (h batchHeader) transactional() bool { return h.attrs&0x10 != 0 }

func segmentName(base int64, ext string) string { return strconv.FormatInt(base, 10) + ext }

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
