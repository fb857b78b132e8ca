// Package stacktest helps tests that start the embedded stack with child
// processes: it builds the countlab binary they run once per test binary.
package stacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
)

// Binary is a countlab binary built from this module once per test binary
// (removed at exit by the OS's temp cleanup; tests pass it as
// stack.Binary).
func Binary(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		var dir string
		if dir, err = os.MkdirTemp("", "countlab-bin-"); err != nil {
			return
		}
		bin = filepath.Join(dir, "countlab")
		out, berr := exec.Command("go", "build", "-o", bin, "github.com/countlab/countlab/cmd/countlab").CombinedOutput()
		if berr != nil {
			err = fmt.Errorf("go build countlab: %v\n%s", berr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
