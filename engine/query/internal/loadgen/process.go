package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

// Spawn runs c in a child process: exe (a test binary whose TestMain
// calls Main when EnvVar is "1") re-executed with EnvVar=1 and no tests
// selected. The child is killed when ctx is done.
func Spawn(ctx context.Context, exe string, c Config) (*Result, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	in, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration+drainGrace+30e9)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), EnvVar+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("loadgen: child: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("loadgen: child answer: %w (%q)", err, out.String())
	}
	return &r, nil
}
