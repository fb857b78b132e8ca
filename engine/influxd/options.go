package influxd

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults.
const (
	// DefaultDatabase is the database created on start; the bucket is
	// DefaultDatabase + "/" + RetentionPolicy.
	DefaultDatabase = "countlab"
	// RetentionPolicy is the retention policy CREATE DATABASE makes and the
	// bucket names: "autogen", infinite duration.
	RetentionPolicy = "autogen"
	// Org is the organization Config reports. InfluxDB 1.8 ignores it; it is
	// set so code written for 2.x (which requires one) works unchanged.
	Org = "countlab"
	// DefaultStartTimeout bounds how long Start and Restart wait for
	// GET /health.
	DefaultStartTimeout = 90 * time.Second
	// DefaultStopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	DefaultStopTimeout = 10 * time.Second
)

// Opt configures Start.
type Opt interface{ apply(*cfg) }

type opt func(*cfg)

func (o opt) apply(c *cfg) { o(c) }

type cfg struct {
	binary       string
	dataDir      string
	database     string
	port         int
	startTimeout time.Duration
	stopTimeout  time.Duration
	logger       *slog.Logger
	// user and password turn on auth (Auth).
	user, password string
}

func defaultCfg() cfg {
	return cfg{
		database:     DefaultDatabase,
		startTimeout: DefaultStartTimeout,
		stopTimeout:  DefaultStopTimeout,
		logger:       slog.New(slog.DiscardHandler),
	}
}

func (c *cfg) validate() error {
	if c.database == "" {
		return errors.New("influxd: empty database name")
	}
	if strings.ContainsAny(c.database, "/\x00\n") {
		return fmt.Errorf("influxd: database name %q must not contain '/', NUL or newline (the bucket is db/rp)", c.database)
	}
	if c.port < 0 || c.port > 65535 {
		return fmt.Errorf("influxd: port %d out of range", c.port)
	}
	if c.startTimeout <= 0 {
		return fmt.Errorf("influxd: start timeout %v must be positive", c.startTimeout)
	}
	if (c.user == "") != (c.password == "") || strings.ContainsAny(c.user, ":\x00\n") {
		return errors.New("influxd: Auth needs a user (without ':', NUL or newline) and a password")
	}
	if c.stopTimeout <= 0 {
		return fmt.Errorf("influxd: stop timeout %v must be positive", c.stopTimeout)
	}
	return nil
}

// Binary sets the influxd executable, overriding the search (see Start).
func Binary(path string) Opt { return opt(func(c *cfg) { c.binary = path }) }

// DataDir keeps the server's files (config, meta, data, wal, log) in dir,
// created if missing, and leaves them there on Stop. Without it a temporary
// directory is used and removed on Stop.
func DataDir(dir string) Opt { return opt(func(c *cfg) { c.dataDir = dir }) }

// Database sets the database created on start (default "countlab"); the
// bucket is name + "/autogen".
func Database(name string) Opt { return opt(func(c *cfg) { c.database = name }) }

// Port sets the HTTP port on 127.0.0.1 (default 0: a free port is picked).
func Port(port int) Opt { return opt(func(c *cfg) { c.port = port }) }

// StartTimeout bounds how long Start and Restart wait for the server to
// answer GET /health (default 90 s).
func StartTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.startTimeout = d }) }

// StopTimeout is how long Stop waits after SIGTERM before SIGKILL
// (default 10 s).
func StopTimeout(d time.Duration) Opt { return opt(func(c *cfg) { c.stopTimeout = d }) }

// Auth turns on authentication (auth-enabled = true) with one admin user:
// Start creates it (influxd lets the first admin be created without
// credentials) and every request the server's Config makes logs in as it
// ("Authorization: Token user:password"). With a reused DataDir the user
// must already have this password.
func Auth(user, password string) Opt {
	return opt(func(c *cfg) { c.user, c.password = user, password })
}

// Logger logs the server's lifecycle (start, stop, kill, restart); default
// discards.
func Logger(l *slog.Logger) Opt {
	return opt(func(c *cfg) {
		if l != nil {
			c.logger = l
		}
	})
}
