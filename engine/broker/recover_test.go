package broker

import (
	"context"
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
