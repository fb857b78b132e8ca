package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/countlab/countlab/faults"
)

// controls are a target's nodes as a faults.Target (and
// faults.BrokerProcess): each fault runs the node's shell command.
type controls struct {
	dir     string
	workers []*Node
	broker  *Node
	store   *Node
	all     []*Node
	net     *links // while StartLinks' proxies run
}

var (
	_ faults.Target        = (*controls)(nil)
	_ faults.BrokerProcess = (*controls)(nil)
)

func newControls(nodes []Node, dir string) *controls {
	c := &controls{dir: dir}
	for i := range nodes {
		n := &nodes[i]
		c.all = append(c.all, n)
		switch n.Role {
		case RoleWorker:
			c.workers = append(c.workers, n)
		case RoleBroker:
			if c.broker == nil {
				c.broker = n
			}
		case RoleStore:
			if c.store == nil {
				c.store = n
			}
		}
	}
	return c
}

// run runs one of n's commands (what names it in errors) with sh -c in
// the target's directory.
func (c *controls) run(ctx context.Context, n *Node, what, command string) error {
	if n == nil || command == "" {
		return fmt.Errorf("the target has no %s command for this node: %w", what, faults.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, n.CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "COUNTLAB_NODE="+n.Name, "COUNTLAB_TARGET_DIR="+c.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A restart command leaves its process running in the background,
	// maybe holding our pipe: stop reading a second after sh exits.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 300 {
			msg = msg[len(msg)-300:]
		}
		return fmt.Errorf("node %s: %s command: %v: %s", n.Name, what, err, msg)
	}
	return nil
}

// healthy runs n's health command (true without one).
func (c *controls) healthy(ctx context.Context, n *Node) bool {
	if n.Health == "" {
		return true
	}
	return c.run(ctx, n, "health", n.Health) == nil
}

// restart runs n's restart command and waits until it is healthy.
func (c *controls) restart(ctx context.Context, n *Node) error {
	if n == nil {
		return fmt.Errorf("no such node: %w", faults.ErrUnsupported)
	}
	if err := c.run(ctx, n, "restart", n.Restart); err != nil {
		return err
	}
	deadline := time.Now().Add(n.ReadyTimeout)
	for !c.healthy(ctx, n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: not healthy %s after its restart", n.Name, n.ReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

func (c *controls) worker(i int) (*Node, error) {
	if i < 0 || i >= len(c.workers) {
		return nil, fmt.Errorf("no worker node %d (the target has %d): %w", i, len(c.workers), faults.ErrUnsupported)
	}
	return c.workers[i], nil
}

// Workers implements faults.Target: the worker nodes.
func (c *controls) Workers() int { return len(c.workers) }

// KillWorker implements faults.Target.
func (c *controls) KillWorker(ctx context.Context, i int) error {
	n, err := c.worker(i)
	if err != nil {
		return err
	}
	return c.run(ctx, n, "kill", n.Kill)
}

// RestartWorker implements faults.Target.
func (c *controls) RestartWorker(ctx context.Context, i int) error {
	n, err := c.worker(i)
	if err != nil {
		return err
	}
	return c.restart(ctx, n)
}

// PauseWorker implements faults.Target.
func (c *controls) PauseWorker(i int) error {
	n, err := c.worker(i)
	if err != nil {
		return err
	}
	return c.run(context.Background(), n, "pause", n.Pause)
}

// ResumeWorker implements faults.Target.
func (c *controls) ResumeWorker(i int) error {
	n, err := c.worker(i)
	if err != nil {
		return err
	}
	return c.run(context.Background(), n, "resume", n.Resume)
}

// KafkaCluster implements faults.Target: a target's broker has no fault
// API.
func (c *controls) KafkaCluster() *kfake.Cluster { return nil }

// KillSink implements faults.Target: the store node's kill.
func (c *controls) KillSink() error {
	return c.run(context.Background(), c.store, "kill", nodeCmd(c.store, "kill"))
}

// RestartSink implements faults.Target.
func (c *controls) RestartSink(ctx context.Context) error { return c.restart(ctx, c.store) }

// KillBroker implements faults.BrokerProcess: the broker node's kill.
func (c *controls) KillBroker() error {
	return c.run(context.Background(), c.broker, "kill", nodeCmd(c.broker, "kill"))
}

// RestartBroker implements faults.BrokerProcess.
func (c *controls) RestartBroker(ctx context.Context) error { return c.restart(ctx, c.broker) }

func nodeCmd(n *Node, what string) string {
	if n == nil {
		return ""
	}
	switch what {
	case "kill":
		return n.Kill
	}
	return ""
}

// capabilities are what the nodes offer.
func (c *controls) capabilities(have faults.Capabilities) {
	if len(c.workers) > 0 {
		kill, pause := true, true
		for _, n := range c.workers {
			kill = kill && n.Kill != ""
			pause = pause && n.Pause != ""
		}
		have[faults.CapWorkerControl] = kill
		have[faults.CapWorkerPause] = pause
	}
	have[faults.CapBrokerProcess] = c.broker != nil && c.broker.Kill != ""
	have[faults.CapSinkProcess] = c.store != nil && c.store.Kill != ""
}

// lagProbe reads the total lag of consumer groups.
type lagProbe struct {
	cl     *kgo.Client
	adm    *kadm.Client
	groups []string
}

func newLagProbe(brokers, groups []string, extra []kgo.Opt) (*lagProbe, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("target.recovery: %w", err)
	}
	return &lagProbe{cl: cl, adm: kadm.NewClient(cl), groups: groups}, nil
}

// lag is the groups' total lag over all their topics.
func (p *lagProbe) lag(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ls, err := p.adm.Lag(ctx, p.groups...)
	if err != nil {
		return 0, err
	}
	if err := ls.Error(); err != nil {
		return 0, err
	}
	var total int64
	for _, g := range p.groups {
		total += ls[g].Lag.Total()
	}
	return total, nil
}

func (p *lagProbe) close() { p.cl.Close() }
