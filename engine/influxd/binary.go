package influxd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnvBinary names the environment variable that points at the influxd
// executable, overriding the search.
const EnvBinary = "COUNTLAB_INFLUXD"

// ErrNoBinary is returned (wrapped) by Start when no influxd executable is
// found.
var ErrNoBinary = errors.New("influxd: no influxd binary found; run `make influxd` (installs InfluxDB 1.8.10 into the repository's bin/), set " + EnvBinary + ", or give --influx-url to use an external InfluxDB")

// FindBinary returns the influxd executable Start would run without the
// Binary option: $COUNTLAB_INFLUXD; else bin/influxd in the working
// directory or one of its parents; else bin/influxd next to the running
// executable or in one of its parents; else influxd on PATH. The error wraps
// ErrNoBinary.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		if p, ok := searchUp(dir); ok {
			return p, nil
		}
	}
	if p, err := exec.LookPath("influxd"); err == nil {
		return p, nil
	}
	return "", ErrNoBinary
}

// searchUp looks for bin/influxd in dir and each of its parents.
func searchUp(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		p := filepath.Join(dir, "bin", "influxd")
		if executable(p) == nil {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// executable reports whether p is a regular file with an execute bit.
func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrNoBinary, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w (%s is not an executable file)", ErrNoBinary, p)
	}
	return nil
}
