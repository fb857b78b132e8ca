package stack

import (
	"strings"
	"testing"
)

// TestWorkerHotKeys: a worker process is told the stack's hot keys as
// the in-process workers and the gateway are (--hot-key, in key order),
// and the stack hands out a copy of them.
func TestWorkerHotKeys(t *testing.T) {
	st := &Stack{cfg: defaultCfg()}
	HotKeys(map[string]int{"k1": 2, "k0": 8})(&st.cfg)
	if args := strings.Join(st.workerArgs(0), " "); !strings.Contains(args, "--hot-key k0=8 --hot-key k1=2") {
		t.Errorf("worker args: %s", args)
	}
	if len(st.cfg.gatewayConfig()) != 1 {
		t.Errorf("gateway options %d", len(st.cfg.gatewayConfig()))
	}
	h := st.HotKeys()
	h["k0"] = 1
	if st.cfg.hotKeys["k0"] != 8 {
		t.Error("HotKeys handed out the stack's own map")
	}
	st = &Stack{cfg: defaultCfg()}
	if args := strings.Join(st.workerArgs(0), " "); strings.Contains(args, "--hot-key") || len(st.cfg.gatewayConfig()) != 0 || st.HotKeys() != nil {
		t.Errorf("no hot keys: args %s", args)
	}
}

// TestHotKeysValidated: a hot key is split at least 2 ways, or the stack
// refuses to start (before anything runs); more ways than partitions is
// allowed (a scenario's split under a --partitions override).
func TestHotKeysValidated(t *testing.T) {
	for _, c := range []struct {
		hot  map[string]int
		want string
	}{
		{map[string]int{"k0": 4}, ""},
		{map[string]int{"k0": 8}, ""},
		{map[string]int{"k0": 1}, `hot key "k0" split 1 ways: give a key and at least 2 ways`},
		{map[string]int{"": 2}, `hot key "" split 2 ways`},
	} {
		cfg := defaultCfg()
		Partitions(4)(&cfg)
		HotKeys(c.hot)(&cfg)
		err := cfg.validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v: %v, want %q", c.hot, err, c.want)
		}
	}
}
