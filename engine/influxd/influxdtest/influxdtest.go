// Package influxdtest starts a managed influxd for tests in other packages:
// it skips the test when the binary is missing, unless
// COUNTLAB_REQUIRE_INFLUXD=1 (CI), where it fails, and stops the server in
// t.Cleanup.
package influxdtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/countlab/countlab/engine/influxd"
)

// EnvRequire names the variable that turns a missing influxd binary from a
// skip into a failure.
const EnvRequire = "COUNTLAB_REQUIRE_INFLUXD"

// StartTimeout is the start timeout Start uses unless opts set one: more
// than influxd's default because a loaded 2-core CI machine running
// several test binaries was measured taking up to ~29 s to bring influxd
// up (its Flux initialization is ~2.7 s of CPU).
const StartTimeout = 2 * time.Minute

// Start starts a managed influxd for t (see influxd.Start) and stops it,
// removing its data unless influxd.DataDir was given, when t ends.
func Start(t testing.TB, opts ...influxd.Opt) *influxd.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout+10*time.Second)
	defer cancel()
	opts = append([]influxd.Opt{influxd.StartTimeout(StartTimeout)}, opts...)
	s, err := influxd.Start(ctx, opts...)
	if errors.Is(err, influxd.ErrNoBinary) && os.Getenv(EnvRequire) != "1" {
		t.Skipf("skipping: %v (set %s=1 to make this a failure)", err, EnvRequire)
	}
	if err != nil {
		t.Fatalf("start influxd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop influxd: %v", err)
		}
	})
	return s
}

// Require skips t when the influxd binary is missing (fails it when
// COUNTLAB_REQUIRE_INFLUXD=1), for tests that start influxd some other way
// (a countlab process, the embedded stack).
func Require(t testing.TB) {
	t.Helper()
	_, err := influxd.FindBinary()
	if err == nil {
		return
	}
	if os.Getenv(EnvRequire) != "1" {
		t.Skipf("skipping: %v (set %s=1 to make this a failure)", err, EnvRequire)
	}
	t.Fatalf("influxd: %v", err)
}
