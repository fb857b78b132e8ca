package broker

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// idemBatch builds an idempotent record batch of n small records.
func idemBatch(pid int64, epoch int16, seq int32, n int) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte{'v', byte('0' + i%10)}}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // one-byte length varint
		recs = r.AppendTo(recs)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(n),
		Records:              recs,
	}
	b.Length = int32(len(b.AppendTo(nil)) - 12)
	enc := b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(enc[21:], castagnoli))
	return b.AppendTo(nil)
}

// rawProducer sends hand-built idempotent batches, so a test can retry the
// exact batch a real producer would retry after losing its acknowledgement.
type rawProducer struct {
	t     *testing.T
	pid   int64
	epoch int16
	topic string
}

func rawClient(t *testing.T, addrs []string) *kgo.Client {
	return newClient(t, addrs, kgo.MaxVersions(kversion.V3_0_0()))
}

func newRawProducer(t *testing.T, cl *kgo.Client, topic string) *rawProducer {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := req.RequestWith(context.Background(), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("init producer id: %v", err)
	}
	return &rawProducer{t: t, pid: resp.ProducerID, epoch: resp.ProducerEpoch, topic: topic}
}

// send produces one batch to partition 0 and returns its base offset.
func (p *rawProducer) send(cl *kgo.Client, seq int32, n int) int64 {
	p.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = p.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = idemBatch(p.pid, p.epoch, seq, n)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		p.t.Fatalf("produce seq %d: %v", seq, err)
	}
	pr := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
		p.t.Fatalf("produce seq %d: %v", seq, err)
	}
	return pr.BaseOffset
}

func endOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	return resp.Topics[0].Partitions[0].Offset
}

// TestCrashRetryIsDeduplicated: a copy of a live data dir is what kill -9
// leaves (every acknowledged write is in the files). A producer that lost
// the acknowledgement of its last batch in the crash retries it against
// the restarted broker: the broker must answer with the original offset and
// not write it again.
func TestCrashRetryIsDeduplicated(t *testing.T) {
	dir := t.TempDir()
	b := newTestBroker(t, DataDir(dir), Partitions(1))
	topic := b.Topics().Events
	cl := rawClient(t, b.Addrs())
	p := newRawProducer(t, cl, topic)
	if off := p.send(cl, 0, 5); off != 0 {
		t.Fatalf("first batch at %d, want 0", off)
	}
	if off := p.send(cl, 5, 3); off != 5 {
		t.Fatalf("second batch at %d, want 5", off)
	}

	crash := func() string {
		d := t.TempDir()
		if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
			t.Fatalf("copy data dir: %v", err)
		}
		return d
	}
	crashed, crashedRaw := crash(), crash()
	cl.Close()
	b.Close()

	// kfake alone, for the record: it forgets the sequence state.
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(crashedRaw))
	if err != nil {
		t.Fatalf("kfake on crash image: %v", err)
	}
	kcl := rawClient(t, kc.ListenAddrs())
	off := p.send(kcl, 5, 3)
	t.Logf("kfake alone on a crash image: retried batch answered at offset %d (8 would be a duplicate)", off)
	kcl.Close()
	kc.Close()

	b2 := newTestBroker(t, DataDir(crashed), Partitions(1))
	cl2 := rawClient(t, b2.Addrs())
	if off := p.send(cl2, 5, 3); off != 5 {
		t.Fatalf("retried batch after crash answered at %d, want 5 (the original)", off)
	}
	if off := p.send(cl2, 0, 5); off != 0 {
		t.Fatalf("retried first batch after crash answered at %d, want 0", off)
	}
	if hw := endOffset(t, cl2, topic); hw != 8 {
		t.Fatalf("end offset after retries %d, want 8", hw)
	}
	if off := p.send(cl2, 8, 2); off != 8 {
		t.Fatalf("next batch after crash at %d, want 8", off)
	}
	if hw := endOffset(t, cl2, topic); hw != 10 {
		t.Fatalf("end offset %d, want 10", hw)
	}
}

// TestCrashDropsBatchWithoutIndex: a crash between the segment write and
// the index write leaves a batch without its index entry; it was never
// acknowledged, and recovery cuts it.
func TestCrashDropsBatchWithoutIndex(t *testing.T) {
	dir := t.TempDir()
	b := newTestBroker(t, DataDir(dir), Partitions(1))
	topic := b.Topics().Events
	cl := rawClient(t, b.Addrs())
	p := newRawProducer(t, cl, topic)
	p.send(cl, 0, 5)
	p.send(cl, 5, 3)
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	idx := crashed + "/partitions/events-0/0.idx"
	st, err := os.Stat(idx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 2*idxEntrySize {
		t.Fatalf("index holds %d bytes, want %d", st.Size(), 2*idxEntrySize)
	}
	if err := os.Truncate(idx, idxEntrySize); err != nil {
		t.Fatal(err)
	}

	b2 := newTestBroker(t, DataDir(crashed), Partitions(1))
	cl2 := rawClient(t, b2.Addrs())
	if hw := endOffset(t, cl2, topic); hw != 5 {
		t.Fatalf("end offset after recovery %d, want 5", hw)
	}
	// The producer retries its unacknowledged batch: it lands once.
	if off := p.send(cl2, 5, 3); off != 5 {
		t.Fatalf("retried batch at %d, want 5", off)
	}
	if hw := endOffset(t, cl2, topic); hw != 8 {
		t.Fatalf("end offset %d, want 8", hw)
	}
}

func TestSeqWindowPush(t *testing.T) {
	var w seqWindow
	for i := range int32(7) {
		w.push(0, i*10, 10, int64(i*10))
	}
	if w.Count != 5 || w.NextSeq != 70 || w.At != 2 || w.lastOffset() != 60 {
		t.Fatalf("window after 7 batches: %+v", w)
	}
	w.push(1, 0, 4, 70)
	if w.Count != 1 || w.NextSeq != 4 || w.Epoch != 1 || w.At != 1 {
		t.Fatalf("window after epoch bump: %+v", w)
	}
}

// TestCrashImageKeepsTransactions: after a crash (a copy of the live data
// dir), committed transactions are visible under read_committed, aborted
// ones are not, the transaction open at the crash is aborted, and the
// transactional id commits again.
func TestCrashImageKeepsTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b := newTestBroker(t, DataDir(dir), Partitions(2))
	topic := b.Topics().Aggregates
	const txid = "countlab-crash-tx"
	cl := newClient(t, b.Addrs(), kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))

	var committed []rec
	begin := func() {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
	}
	end := func(rs []rec, commit bool) {
		t.Helper()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end txn: %v", err)
		}
		if commit {
			committed = append(committed, rs...)
		}
	}
	begin()
	end(produce(t, ctx, cl, topic, "commit1", 300), true)
	begin()
	end(produce(t, ctx, cl, topic, "abort1", 200), false)
	begin()
	end(produce(t, ctx, cl, topic, "commit2", 100), true)
	begin()
	produce(t, ctx, cl, topic, "open", 50) // acknowledged, never committed

	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	addrs := b.Addrs()
	b.Close()

	// The restarted broker, on the same address: the producer that had
	// the transaction open (a zombie now) cannot commit it.
	b2 := newTestBroker(t, DataDir(crashed), Partitions(2), Listen(addrs...))
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the transaction open at the crash committed after it")
	} else {
		t.Logf("commit of the transaction open at the crash: %v", err)
	}
	cl.Close()
	got := readAll(t, addrs, topic, len(committed), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	equalRecs(t, "read_committed after crash", got, committed)

	cl = newClient(t, b2.Addrs(), kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	begin()
	end(produce(t, ctx, cl, topic, "commit3", 20), true)
	got = readAll(t, addrs, topic, len(committed), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	equalRecs(t, "read_committed after crash and another commit", got, committed)
}

// TestCrashMidCommitCompletes: a crash while the commit markers are being
// written leaves the transaction committed in some partitions and open in
// others; recovery completes the commit everywhere.
func TestCrashMidCommitCompletes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b := newTestBroker(t, DataDir(dir), Partitions(2))
	topic := b.Topics().Aggregates
	cl := newClient(t, b.Addrs(), kgo.TransactionalID("countlab-midcommit"), kgo.DefaultProduceTopic(topic))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	want := produce(t, ctx, cl, topic, "c", 200)
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	parts := map[int32]bool{}
	for _, r := range want {
		parts[r.Part] = true
	}
	if len(parts) != 2 {
		t.Fatalf("transaction touched %d partitions, want 2", len(parts))
	}
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	b.Close()

	// Undo what the commit wrote after the first partition's marker: the
	// second partition's marker and the endtx and init entries of pids.log.
	pdir := crashed + "/partitions/" + topic + "-1"
	raw, err := os.ReadFile(pdir + "/0.dat")
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for pos := 0; pos < len(raw); {
		last = pos
		pos += 12 + int(binary.BigEndian.Uint32(raw[pos+8:]))
	}
	if h := parseBatchHeader(raw[last:]); !h.control() || !isCommitMarker(raw[last:]) {
		t.Fatalf("last batch of partition 1 is not a commit marker: %+v", h)
	}
	cut := func(path string, size int64) {
		t.Helper()
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	cut(pdir+"/0.dat", int64(last))
	st, err := os.Stat(pdir + "/0.idx")
	if err != nil {
		t.Fatal(err)
	}
	cut(pdir+"/0.idx", st.Size()-idxEntrySize)
	plog, err := os.ReadFile(crashed + "/pids.log")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := readLogEntries(plog)
	if len(entries) < 3 {
		t.Fatalf("pids.log has %d entries, want init, endtx, init", len(entries))
	}
	keep := 0
	for _, e := range entries[:len(entries)-2] {
		keep += logEntryHeader + len(e)
	}
	cut(crashed+"/pids.log", int64(keep))

	b2 := newTestBroker(t, DataDir(crashed), Partitions(2))
	got := readAll(t, b2.Addrs(), topic, len(want), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	equalRecs(t, "read_committed after a crash mid-commit", got, want)
}
