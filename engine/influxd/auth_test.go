package influxd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd"
	"github.com/countlab/countlab/engine/influxd/influxdtest"
)

// TestAuth runs the managed influxd with auth on: clients of its Config
// (the user and password sent as "Authorization: Token user:password")
// write and read; without credentials, or with a wrong password, InfluxDB
// refuses; after a restart (the user already exists) it still logs in.
func TestAuth(t *testing.T) {
	t.Parallel()
	const pass = "infl-pa55-never-logged"
	s := influxdtest.Start(t, influxd.Auth("countlab-admin", pass))
	cfg := s.Config()
	if cfg.User != "countlab-admin" || cfg.Password != pass || strings.Contains(cfg.String(), pass) {
		t.Fatalf("Config() = %s", cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := influxd.Ping(ctx, cfg); err != nil {
		t.Fatalf("ping with the user: %v", err)
	}
	writePoints(t, cfg, total("k", "t", base, 3, 1.5))
	sameRows(t, readAll(t, cfg), []row{{"k", "t", base, "count", int64(3)}, {"k", "t", base, "sum", 1.5}})

	anon := cfg
	anon.User, anon.Password = "", ""
	if err := influxd.Ping(ctx, anon); !errors.Is(err, influxd.ErrUnauthorized) || !strings.Contains(err.Error(), "--influx-user") {
		t.Errorf("ping without credentials: got %v, want unauthorized", err)
	}
	wrong := cfg
	wrong.Password = "wrong"
	err := influxd.Ping(ctx, wrong)
	if !errors.Is(err, influxd.ErrUnauthorized) {
		t.Errorf("ping with a wrong password: got %v, want unauthorized", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}

	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restart with auth on: %v", err)
	}
	sameRows(t, readAll(t, cfg), []row{{"k", "t", base, "count", int64(3)}, {"k", "t", base, "sum", 1.5}})
}
