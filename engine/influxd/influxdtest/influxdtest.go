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

// Start starts a managed influxd for t (see influxd.Start) and stops it,
// removing its data unless influxd.DataDir was given, when t ends.
func Start(t testing.TB, opts ...influxd.Opt) *influxd.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
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
