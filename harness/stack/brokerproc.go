package stack

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/countlab/countlab/engine/kafka"
	"github.com/countlab/countlab/faults"
)

// brokerReadyTimeout bounds a broker process start (a restart replays and
// repairs its data dir first).
const brokerReadyTimeout = 60 * time.Second

// brokerChild is the embedded broker run as a `countlab broker` child
// process, for the broker-crash fault: on a fixed 127.0.0.1 port and a
// data dir, so that it can be SIGKILLed and started again where every
// client finds it (they reconnect to the same address). A restart repairs
// the data dir a kill -9 left behind (engine/broker, recover.go and
// txnrecover.go): every acknowledged record, committed offset and
// transaction is there again.
type brokerChild struct {
	childProc
	addr   string
	conn   kafka.Conn // how clients reach it (with the BrokerSASL login)
	events string     // the events topic, watched for writes after a restart
}

var _ faults.BrokerProcess = stackTarget{}

// startBrokerChild starts `countlab broker` on the first --broker-listen
// address (port 0: a port free now, kept for the restarts) with its data
// in dir, and returns once it serves.
func startBrokerChild(ctx context.Context, f *cfg, dir string, fail func(error)) (*brokerChild, error) {
	addr, err := fixedPort(f.brokerListen[0])
	if err != nil {
		return nil, fmt.Errorf("broker process: %w", err)
	}
	bin, err := f.bin()
	if err != nil {
		return nil, fmt.Errorf("broker process: %w", err)
	}
	conn := f.brokerSASL // the SASL login it requires (BrokerSASL), if any
	conn.Brokers = []string{addr}
	b := &brokerChild{
		addr:   addr,
		conn:   conn,
		events: kafka.DefaultTopics(f.topicPrefix).Events,
		childProc: childProc{
			name: "broker process on " + addr,
			bin:  bin,
			args: append([]string{"broker",
				"--listen", addr,
				"--data-dir", dir,
				"--partitions", strconv.Itoa(f.partitions),
				"--topic-prefix", f.topicPrefix,
				"--log-level", strings.ToLower(f.logLevel.String()),
			}, conn.Args()...), // --sasl-*: it requires that user
			env:          conn.ChildEnv(os.Environ()), // with the password
			readyLine:    "ready",                     // its topics exist
			readyTimeout: brokerReadyTimeout,
			notReadyHint: " (is the port taken?)",
			fail:         fail,
		},
	}
	return b, b.start(ctx)
}

// fixedPort is addr with port 0 replaced by a port free now.
func fixedPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// restart starts the process again after kill, on the same address and
// data dir, and returns once it serves.
func (b *brokerChild) restart(ctx context.Context) error {
	if b.running() {
		return fmt.Errorf("%s is still running", b.name)
	}
	return b.start(ctx)
}

func (t stackTarget) brokerChild() (*brokerChild, error) {
	if t.s.brokerProc == nil {
		return nil, fmt.Errorf("broker-crash needs the broker run as a process (countlab run does that for a scenario with a broker-crash fault, not with --brokers): %w", faults.ErrUnsupported)
	}
	return t.s.brokerProc, nil
}

// KillBroker is faults.BrokerProcess: SIGKILL the broker process.
func (t stackTarget) KillBroker() error {
	b, err := t.brokerChild()
	if err != nil {
		return err
	}
	return b.kill()
}

// RestartBroker is faults.BrokerProcess: start the broker again on the
// same port and data dir, and wait until the producers write to the
// events topic again (the heal's time then includes the clients'
// reconnection; at most writesWait when nothing is being sent).
func (t stackTarget) RestartBroker(ctx context.Context) error {
	b, err := t.brokerChild()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := b.restart(ctx); err != nil {
		return err
	}
	ready := time.Since(start)
	ok, err := b.waitWrites(ctx, writesWait)
	t.s.log.Info("broker restarted", "addr", b.addr, "ready_s", ready.Seconds(), "writing_again", ok,
		"writing_again_s", time.Since(start).Seconds(), "err", err)
	return nil
}

// writesWait bounds RestartBroker's wait for producers to write again.
const writesWait = 10 * time.Second

// waitWrites waits until the events topic's end offsets grow (a record
// is written), at most d; false when they did not.
func (b *brokerChild) waitWrites(ctx context.Context, d time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cl, err := b.conn.NewClient()
	if err != nil {
		return false, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	base := int64(-1)
	for {
		if offs, err := adm.ListEndOffsets(ctx, b.events); err == nil && offs.Error() == nil {
			var sum int64
			offs.Each(func(o kadm.ListedOffset) { sum += o.Offset })
			if base >= 0 && sum > base {
				return true, nil
			}
			if base < 0 {
				base = sum
			}
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}
