package countlab

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/sobek"

	"github.com/countlab/countlab/engine/event"
	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/sim"
	"github.com/countlab/countlab/sim/ledger"
)

// Transports are shared by the VUs of a process (a franz-go client and an
// HTTP client are safe for concurrent use), one per distinct config.
var shared struct {
	mu    sync.Mutex
	kafka map[string]*sim.Kafka
	gw    map[string]*sim.Gateway
}

// ProducerOptions are the options of countlab.kafkaProducer({...}).
type ProducerOptions struct {
	// Brokers are seed brokers: an array or a comma-separated string.
	Brokers any `js:"brokers"`
	// Topic is the events topic (default "events").
	Topic string `js:"topic"`
	// Format is "json" (default) or "protobuf".
	Format string `js:"format"`
	// SASL: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 and user;
	// the password comes from COUNTLAB_KAFKA_PASSWORD(_FILE), never the
	// script.
	SASLMechanism string `js:"sasl_mechanism"`
	SASLUser      string `js:"sasl_user"`
	TLS           bool   `js:"tls"`
	sendOptions
}

// GatewayOptions are the options of countlab.gateway({...}).
type GatewayOptions struct {
	// URL is the gateway's base URL (http://127.0.0.1:8080).
	URL string `js:"url"`
	// Token is the bearer token (default: COUNTLAB_TOKEN).
	Token string `js:"token"`
	// Format is "json" (default) or "protobuf".
	Format string `js:"format"`
	// Conns bounds the connections of the process to the gateway
	// (default 256).
	Conns int `js:"conns"`
	sendOptions
}

type sendOptions struct {
	// Windows are the ledger's window sizes, as `countlab up --windows`
	// (default "1m").
	Windows string `js:"windows"`
	// Attempts bounds the sends of an unacknowledged event (default 5);
	// a re-send has the same id, so it is never counted twice.
	Attempts int `js:"attempts"`
}

// Sink sends batches through one transport and records what was
// acknowledged in the ledger.
type Sink struct {
	mi        *ModuleInstance
	tr        sim.Transport
	transport string // metric tag: kafka or http
	l         *ledger.Ledger
	attempts  int
}

func (mi *ModuleInstance) newKafkaProducer(opts sobek.Value) (*Sink, error) {
	var o ProducerOptions
	if err := exportOpts(mi, opts, &o); err != nil {
		return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
	}
	conn := kafka.Conn{SASLMechanism: o.SASLMechanism, SASLUser: o.SASLUser, TLS: o.TLS}
	switch b := o.Brokers.(type) {
	case string:
		conn.Brokers = kafka.ParseBrokers(b)
	case []any:
		for _, s := range b {
			conn.Brokers = append(conn.Brokers, kafka.ParseBrokers(fmt.Sprint(s))...)
		}
	}
	if err := conn.ConnFromEnv(); err != nil {
		return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
	}
	if o.Topic == "" {
		o.Topic = kafka.DefaultTopics("").Events
	}
	format, err := sim.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
	}
	if _, err := conn.Opts(); err != nil {
		return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
	}
	s, err := mi.newSink("kafka", o.sendOptions)
	if err != nil {
		return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
	}
	key := fmt.Sprintf("%s|%s|%s|%d|%s|%v", conn.Brokers, conn.SASLMechanism, conn.SASLUser, format, o.Topic, conn.TLS)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	k := shared.kafka[key]
	if k == nil {
		if k, err = sim.NewKafka(conn, o.Topic, format); err != nil {
			return nil, fmt.Errorf("countlab.kafkaProducer: %w", err)
		}
		if shared.kafka == nil {
			shared.kafka = map[string]*sim.Kafka{}
		}
		shared.kafka[key] = k
	}
	s.tr = k
	return s, nil
}

func (mi *ModuleInstance) newGateway(opts sobek.Value) (*Sink, error) {
	var o GatewayOptions
	if err := exportOpts(mi, opts, &o); err != nil {
		return nil, fmt.Errorf("countlab.gateway: %w", err)
	}
	if o.URL == "" {
		return nil, fmt.Errorf("countlab.gateway: no url")
	}
	if o.Token == "" {
		o.Token = os.Getenv("COUNTLAB_TOKEN")
	}
	if o.Conns <= 0 {
		o.Conns = 256
	}
	format, err := sim.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("countlab.gateway: %w", err)
	}
	s, err := mi.newSink("http", o.sendOptions)
	if err != nil {
		return nil, fmt.Errorf("countlab.gateway: %w", err)
	}
	key := fmt.Sprintf("%s|%s|%d|%d", o.URL, o.Token, format, o.Conns)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	gw := shared.gw[key]
	if gw == nil {
		gw = sim.NewGateway(o.URL, o.Token, format, o.Conns)
		if shared.gw == nil {
			shared.gw = map[string]*sim.Gateway{}
		}
		shared.gw[key] = gw
	}
	s.tr = gw
	return s, nil
}

func (mi *ModuleInstance) newSink(transport string, o sendOptions) (*Sink, error) {
	l, err := useLedger(o.Windows)
	if err != nil {
		return nil, err
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	return &Sink{mi: mi, transport: transport, l: l, attempts: o.Attempts}, nil
}

// SendResult is what became of a batch: {acked, rejected, failed,
// attempts, error}.
type SendResult struct {
	Acked    int    `js:"acked"`
	Rejected int    `js:"rejected"`
	Failed   int    `js:"failed"`
	Attempts int    `js:"attempts"`
	Error    string `js:"error"`
}

// Produce sends events (a gen.batch(n) or an array of event objects) to
// Kafka and waits for the broker's acknowledgements.
func (s *Sink) Produce(events sobek.Value) (*SendResult, error) { return s.send(events) }

// Post sends events (a gen.batch(n) or an array of event objects) to the
// gateway and waits for its answer.
func (s *Sink) Post(events sobek.Value) (*SendResult, error) { return s.send(events) }

func (s *Sink) send(v sobek.Value) (*SendResult, error) {
	if s.mi.vu.State() == nil {
		return nil, fmt.Errorf("countlab: events can only be sent from a running VU, not the init context")
	}
	items, seqs, err := s.items(v)
	if err != nil {
		return nil, err
	}
	return s.sendItems(s.mi.vu.Context(), items, seqs), nil
}

// items extracts the items to send and their ledger sequence numbers.
func (s *Sink) items(v sobek.Value) ([]sim.Item, []uint64, error) {
	if v == nil || sobek.IsUndefined(v) || sobek.IsNull(v) {
		return nil, nil, fmt.Errorf("countlab: no events to send")
	}
	if b, ok := v.Export().(*Batch); ok {
		seqs := make([]uint64, len(b.Items))
		for i := range b.Items {
			seqs[i] = generatedSeq(b.vu, b.Items[i].Seq)
		}
		return b.Items, seqs, nil
	}
	var objs []map[string]any
	if err := s.mi.vu.Runtime().ExportTo(v, &objs); err != nil {
		return nil, nil, fmt.Errorf("countlab: events: want gen.batch(n) or an array of {id, key, type, value, ts, dims}: %w", err)
	}
	items := make([]sim.Item, len(objs))
	seqs := make([]uint64, len(objs))
	for i, o := range objs {
		e, err := eventFromObject(o)
		if err != nil {
			return nil, nil, fmt.Errorf("countlab: events[%d]: %w", i, err)
		}
		items[i] = sim.Item{Event: e, Late: o["late"] == true}
		if defaultValidator.Validate(&items[i].Event) != nil {
			// The gateway rejects it; produced to Kafka, the engine
			// dead-letters it: never in the ledger.
			items[i].Kind = sim.KindMalformed
		}
		seqs[i] = idSeq(e.ID)
	}
	return items, seqs, nil
}

// defaultValidator marks the invalid events of a script's own arrays
// (the engine's default rules; generated batches know their own).
var defaultValidator = func() *event.Validator {
	v, err := event.NewValidator()
	if err != nil {
		panic(err)
	}
	return v
}()

func eventFromObject(o map[string]any) (event.Event, error) {
	var e event.Event
	e.ID, _ = o["id"].(string)
	e.Key, _ = o["key"].(string)
	e.Type, _ = o["type"].(string)
	if e.ID == "" {
		return e, fmt.Errorf("no id")
	}
	e.Value = 1
	if v, ok := number(o["value"]); ok {
		e.Value = v
	}
	if ts, ok := number(o["ts"]); ok {
		e.TS = int64(ts)
	} else {
		e.TS = time.Now().UnixMilli()
	}
	if d, ok := o["dims"].(map[string]any); ok {
		for k, v := range d {
			e.Dims = append(e.Dims, event.Dim{Name: k, Value: fmt.Sprint(v)})
		}
		slices.SortFunc(e.Dims, func(a, b event.Dim) int { return strings.Compare(a.Name, b.Name) })
	}
	return e, nil
}

// sendItems sends items, re-sending the unacknowledged ones up to the
// attempt limit, records the acknowledged ones in the ledger and emits
// the metrics. The ack latency of an attempt is from its send to its
// answer.
func (s *Sink) sendItems(ctx context.Context, items []sim.Item, seqs []uint64) *SendResult {
	res := &SendResult{}
	out := make([]sim.Outcome, len(items))
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	cur := items
	backoff := 20 * time.Millisecond
	for attempt := 1; len(idx) > 0 && attempt <= s.attempts; attempt++ {
		res.Attempts = attempt
		t0 := time.Now()
		err := s.tr.Send(ctx, cur, out[:len(cur)])
		now := time.Now()
		var acked, rejected int
		next := idx[:0:0]
		for j := range cur {
			if err != nil {
				next = append(next, idx[j])
				continue
			}
			switch out[j] {
			case sim.Acked:
				acked++
				s.l.Add(seqs[idx[j]], &cur[j].Event, cur[j].Late)
			case sim.Rejected:
				rejected++
			default:
				next = append(next, idx[j])
			}
		}
		if err != nil {
			res.Error = err.Error()
		}
		res.Acked += acked
		res.Rejected += rejected
		vals := []metricValue{{s.mi.metrics.Produced, float64(acked)}, {s.mi.metrics.Rejected, float64(rejected)}}
		if err == nil {
			vals = append(vals, metricValue{s.mi.metrics.ProduceAck, ms(now.Sub(t0))})
		}
		push(s.mi.vu, "transport", s.transport, now, vals...)
		if len(next) == 0 || attempt == s.attempts || ctx.Err() != nil {
			idx = next
			break
		}
		idx = next
		cur = make([]sim.Item, len(idx))
		for j, i := range idx {
			cur[j] = items[i]
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	res.Failed = len(idx)
	if res.Failed > 0 {
		push(s.mi.vu, "transport", s.transport, time.Now(), metricValue{s.mi.metrics.Failed, float64(res.Failed)})
	}
	return res
}
