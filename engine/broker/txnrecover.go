package broker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A transaction open when the broker crashed has data batches in some
// partitions and no marker after them. kfake alone treats it as aborted
// in memory only: it writes no ABORT marker, so a read_committed franz-go
// (or Java) consumer, which skips a producer's records from the aborted
// transaction's first offset until it meets that producer's next marker,
// also skips the producer's next, committed, transaction. We write the
// missing marker into the log before kfake loads it, as Kafka's
// transaction coordinator completes or aborts such a transaction on
// recovery, and fence the producer epoch in pids.log.
//
// Which marker: transactions end with an epoch bump (KIP-890, EndTxn v5,
// which franz-go and kfake speak), so a producer id and epoch name one
// transaction. If any partition already holds a COMMIT marker for it, the
// crash came in the middle of writing the commit markers, and we complete
// the commit; otherwise we abort. (Offsets committed inside that
// transaction are lost with the crash either way: kfake keeps them in
// memory until its markers are written.)

// txnKey names one transaction: producer id and epoch.
type txnKey struct {
	pid   int64
	epoch int16
}

// txnOutcome is one transaction left open by a crash, finished by recovery.
type txnOutcome struct {
	topic  string
	part   int32
	pid    int64
	epoch  int16
	commit bool
}

// isCommitMarker reports whether the control batch b holds a COMMIT marker
// (control record key: version int16, type int16; 0 abort, 1 commit).
func isCommitMarker(b []byte) bool {
	var r kmsg.Record
	if err := r.ReadFrom(b[batchHeaderLen:]); err != nil || len(r.Key) < 4 {
		return false
	}
	return binary.BigEndian.Uint16(r.Key[2:4]) == uint16(kmsg.ControlRecordKeyTypeCommit)
}

// finishOpenTxns writes the missing markers and fences the producers.
func finishOpenTxns(dir string, scans []*partScan, markers map[txnKey]bool) ([]txnOutcome, error) {
	var out []txnOutcome
	ended := make(map[txnKey]bool)
	for _, ps := range scans {
		pids := make([]int64, 0, len(ps.open))
		for pid := range ps.open {
			pids = append(pids, pid)
		}
		slices.Sort(pids)
		for _, pid := range pids {
			k := txnKey{pid, ps.open[pid]}
			commit := markers[k]
			if err := ps.appendMarker(k, commit); err != nil {
				return out, fmt.Errorf("partition %s-%d: write marker: %w", ps.topic, ps.part, err)
			}
			ended[k] = commit
			out = append(out, txnOutcome{ps.topic, ps.part, k.pid, k.epoch, commit})
		}
	}
	if len(ended) == 0 {
		return out, nil
	}
	return out, fencePIDs(dir, ended)
}

// appendMarker appends a control batch ending transaction k to the
// partition's last segment, with its index entry, and syncs both.
func (ps *partScan) appendMarker(k txnKey, commit bool) error {
	key := kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeAbort}
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	rec := kmsg.Record{Key: key.AppendTo(nil), Value: (&kmsg.EndTxnMarker{}).AppendTo(nil)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // one-byte length varint
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset:          ps.next,
		PartitionLeaderEpoch: ps.leaderEpoch,
		Magic:                2,
		Attributes:           0x30, // control, transactional
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           k.pid,
		ProducerEpoch:        k.epoch,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              rec.AppendTo(nil),
	}
	b.Length = int32(len(b.AppendTo(nil)) - 12)
	enc := b.AppendTo(nil)
	binary.BigEndian.PutUint32(enc[17:21], crc32.Checksum(enc[21:], castagnoli))

	var idx [idxEntrySize]byte
	idx[0] = 1 // entry version
	binary.LittleEndian.PutUint32(idx[2:6], uint32(ps.leaderEpoch))
	binary.LittleEndian.PutUint64(idx[6:14], uint64(now))
	idx[1] = byte(crc32.Checksum(idx[2:], castagnoli))

	if err := appendSync(filepath.Join(ps.dir, segmentName(ps.lastBase, ".dat")), enc); err != nil {
		return err
	}
	if err := appendSync(filepath.Join(ps.dir, segmentName(ps.lastBase, ".idx")), idx[:]); err != nil {
		return err
	}
	ps.next++
	return nil
}

func appendSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// pidLogEntry mirrors kfake's pids.log entry.
type pidLogEntry struct {
	Type    string `json:"type"` // init, endtx, timeout
	PID     int64  `json:"pid"`
	Epoch   int16  `json:"epoch"`
	TxID    string `json:"txid,omitempty"`
	Timeout int32  `json:"timeout,omitempty"`
	Commit  *bool  `json:"commit,omitempty"`
}

// fencePIDs appends to pids.log what kfake writes when it ends a
// transaction: endtx at the transaction's epoch, then init at the next
// epoch, so the producer that had the transaction open is fenced and a
// retry of its EndTxn learns how the transaction ended.
func fencePIDs(dir string, ended map[txnKey]bool) error {
	path := filepath.Join(dir, "pids.log")
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	entries, valid := readLogEntries(raw)
	if valid < len(raw) {
		// Entries after a torn one are never read: cut it first.
		if err := os.Truncate(path, int64(valid)); err != nil {
			return err
		}
	}
	last := make(map[int64]pidLogEntry)
	for _, data := range entries {
		var e pidLogEntry
		if json.Unmarshal(data, &e) == nil && e.Type == "init" {
			last[e.PID] = e
		}
	}
	keys := make([]txnKey, 0, len(ended))
	for k := range ended {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b txnKey) int { return int(a.pid - b.pid) })
	var buf []byte
	for _, k := range keys {
		init, ok := last[k.pid]
		if !ok || init.Epoch > k.epoch {
			continue // unknown producer, or already past this epoch
		}
		commit := ended[k]
		buf = appendLogEntry(buf, pidLogEntry{Type: "endtx", PID: k.pid, Epoch: k.epoch, Commit: &commit})
		buf = appendLogEntry(buf, pidLogEntry{Type: "init", PID: k.pid, Epoch: k.epoch + 1,
			TxID: init.TxID, Timeout: init.Timeout, Commit: &commit})
	}
	if len(buf) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// kfake's append-log framing: [4 length][4 crc32c][2 version][data], little
// endian; length counts version and data, the CRC covers them.
const logEntryHeader = 10

func appendLogEntry(buf []byte, v any) []byte {
	data, _ := json.Marshal(v)
	var h [logEntryHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(2+len(data)))
	binary.LittleEndian.PutUint16(h[8:10], 1)
	crc := crc32.Update(crc32.Checksum(h[8:10], castagnoli), castagnoli, data)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	return append(append(buf, h[:]...), data...)
}

func readLogEntries(raw []byte) (entries [][]byte, valid int) {
	pos := 0
	for pos+logEntryHeader <= len(raw) {
		n := int(binary.LittleEndian.Uint32(raw[pos : pos+4]))
		if n < 2 || pos+8+n > len(raw) {
			break
		}
		body := raw[pos+8 : pos+8+n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(raw[pos+4:pos+8]) {
			break
		}
		entries = append(entries, body[2:])
		pos += 8 + n
	}
	return entries, pos
}
