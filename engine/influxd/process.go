package influxd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// sig is a signal, mapped to the platform's in signal_*.go.
type sig int

const (
	sigTerm sig = iota
	sigKill
	sigStop
	sigCont
)

// errAddrInUse marks a startup that failed because a port was taken.
var errAddrInUse = errors.New("address already in use")

// healthPoll is how often boot asks GET /health.
const healthPoll = 20 * time.Millisecond

// tailLines is how many log lines a startup error carries.
const tailLines = 20

// boot writes the config, starts the process and waits until it is healthy;
// on failure the process is killed and reaped. Callers hold s.mu or own s
// exclusively.
func (s *Server) boot(ctx context.Context) error {
	for _, addr := range []string{s.lay.httpAddr(), s.lay.rpcAddr()} {
		if err := portFree(addr); err != nil {
			return fmt.Errorf("influxd: %w: %s (%v)", errAddrInUse, addr, err)
		}
	}
	if err := os.WriteFile(s.lay.confPath(), []byte(s.lay.render()), 0o644); err != nil {
		return fmt.Errorf("influxd: write config: %w", err)
	}
	p, err := s.launch()
	if err != nil {
		return err
	}
	s.proc = p
	if err := s.waitHealthy(ctx, p); err != nil {
		p.expected.Store(true)
		signalProc(p.cmd.Process, sigKill)
		waitDone(p, killWait)
		return err
	}
	p.up.Store(true)
	return nil
}

// launch starts influxd with output appended to the log file.
func (s *Server) launch() (*proc, error) {
	log, err := os.OpenFile(s.lay.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("influxd: log file: %w", err)
	}
	defer log.Close() // the child has its own copy
	fmt.Fprintf(log, "# countlab: %s starting %s on %s (rpc %s)\n",
		time.Now().UTC().Format(time.RFC3339), s.bin, s.lay.httpAddr(), s.lay.rpcAddr())

	cmd := exec.Command(s.bin, "run", "-config", s.lay.confPath())
	cmd.Dir = s.lay.dir
	cmd.Env = env()
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("influxd: start %s: %w", s.bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		if p.up.Load() && !p.expected.Load() {
			s.cfg.logger.Error("influxd exited unexpectedly", "url", s.URL(), "err", p.err, "log", s.logTail())
		}
	}()
	return p, nil
}

// waitHealthy polls GET /health until it answers 200, the process exits,
// StartTimeout passes or ctx is done.
func (s *Server) waitHealthy(ctx context.Context, p *proc) error {
	deadline := time.NewTimer(s.cfg.startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	health := s.URL() + "/health"
	for {
		if healthy(ctx, hc, health) && s.ours(ctx, hc) {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.done:
			// Exited before healthy: say why, from its log.
			tail := s.logTail()
			err := fmt.Errorf("influxd: exited during startup (%v); last lines of %s:\n%s", p.err, s.lay.logPath(), tail)
			if strings.Contains(tail, "address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		case <-deadline.C:
			return fmt.Errorf("influxd: not healthy after %v at %s; last lines of %s:\n%s",
				s.cfg.startTimeout, health, s.lay.logPath(), s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("influxd: startup: %w", ctx.Err())
		}
	}
}

func healthy(ctx context.Context, hc *http.Client, u string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// ours reports whether the server answering is the process we started,
// not another that holds the port (ours then fails to bind and exits): its
// expvar command line (GET /debug/vars, served by 1.8 whatever pprof-enabled
// says) names our config file. A server without the endpoint is taken as
// ours.
func (s *Server) ours(ctx context.Context, hc *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/debug/vars", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return true
	}
	var vars struct {
		Cmdline []string `json:"cmdline"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil || vars.Cmdline == nil {
		return err == nil
	}
	return slices.Contains(vars.Cmdline, s.lay.confPath())
}

// createDatabase runs CREATE DATABASE (a no-op when it exists) over the 1.x
// query API, the only way to make one on 1.8.
func (s *Server) createDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s.cfg.user != "" {
		// The password is sent in the body only; the error names the
		// statement without it.
		q := "CREATE USER " + quoteIdent(s.cfg.user) + " WITH PASSWORD " + quoteString(s.cfg.password) + " WITH ALL PRIVILEGES"
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("influxd: CREATE USER %s: %w", quoteIdent(s.cfg.user), err)
		}
	}
	q := "CREATE DATABASE " + quoteIdent(s.cfg.database)
	if err := s.exec(ctx, q); err != nil {
		return fmt.Errorf("influxd: %s: %w", q, err)
	}
	return nil
}

// exec runs the InfluxQL statement q over the 1.x query API, logged in as
// the Auth user when there is one.
func (s *Server) exec(ctx context.Context, q string) error {
	form := url.Values{"q": {q}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.cfg.user != "" {
		req.Header.Set("Authorization", "Token "+s.Config().Credential())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return errors.New(res.Error)
		}
	}
	return nil
}

// quoteString quotes an InfluxQL string literal.
func quoteString(s string) string {
	return `'` + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + `'`
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// logTail returns the last tailLines lines of the log file.
func (s *Server) logTail() string {
	f, err := os.Open(s.lay.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "\n")
}
