package faults

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// params are a fault's YAML parameters; each getter marks its key used,
// so that unknown reports the rest.
type params struct {
	m    map[string]any
	used map[string]bool
}

func newParams(m map[string]any) *params { return &params{m: m, used: map[string]bool{}} }

func (p *params) take(name string) (any, bool) {
	v, ok := p.m[name]
	if ok {
		p.used[name] = true
	}
	return v, ok
}

func (p *params) int(name string, def int) (int, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("param %s: want a whole number, got %v", name, v)
}

func (p *params) float(name string, def float64) (float64, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case float64:
		return n, nil
	}
	return 0, fmt.Errorf("param %s: want a number, got %v", name, v)
}

func (p *params) string(name, def string) (string, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("param %s: want text, got %v", name, v)
	}
	return s, nil
}

func (p *params) strings(name string, def []string) ([]string, error) {
	v, ok := p.take(name)
	if !ok {
		return def, nil
	}
	switch l := v.(type) {
	case string:
		return []string{l}, nil
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("param %s: want a list of text, got %v", name, v)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("param %s: want a list of text, got %v", name, v)
}

// unknown is an error naming the keys no getter took, or nil.
func (p *params) unknown() error {
	var extra []string
	for k := range p.m {
		if !p.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return fmt.Errorf("unknown param %s", strings.Join(extra, ", "))
}

// oneOf checks that v is one of ok.
func oneOf(name, v string, ok []string) error {
	if !slices.Contains(ok, v) {
		return fmt.Errorf("param %s: unknown %q (one of: %s)", name, v, strings.Join(ok, ", "))
	}
	return nil
}
