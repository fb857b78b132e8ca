package probe

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/countlab/countlab/reports"
)

// cpuProfile is a CPU profile of this process being taken.
type cpuProfile struct{ buf bytes.Buffer }

// startCPUProfile starts the process's CPU profile (runtime/pprof, 100
// samples a second); it fails when one is already running.
func startCPUProfile() (*cpuProfile, error) {
	p := new(cpuProfile)
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return nil, err
	}
	return p, nil
}

// stop stops the profile and returns its samples by the value of the
// label key (samples without it under reports.StageUnlabelled).
func (p *cpuProfile) stop(key string) (map[string]int64, error) {
	pprof.StopCPUProfile()
	return samplesByLabel(p.buf.Bytes(), key)
}

// samplesByLabel parses a gzipped profile.proto (as runtime/pprof writes
// it) and sums its samples' first value (the sample count of a CPU
// profile) by the value of the string label key.
func samplesByLabel(gz []byte, key string) (map[string]int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	type sample struct {
		n      int64
		labels [][2]int64 // key, str string indices
	}
	var samples []sample
	var strs []string
	err = eachField(raw, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == 2 && typ == protowire.BytesType: // Profile.sample
			var s sample
			first := true
			err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				switch {
				case num == 2: // Sample.value, packed or not
					vals, err := varints(typ, v)
					if err != nil {
						return err
					}
					if first && len(vals) > 0 {
						s.n, first = int64(vals[0]), false
					}
				case num == 3 && typ == protowire.BytesType: // Sample.label
					var l [2]int64
					err := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
						if (num == 1 || num == 2) && typ == protowire.VarintType {
							x, _ := protowire.ConsumeVarint(v)
							l[num-1] = int64(x)
						}
						return nil
					})
					if err != nil {
						return err
					}
					s.labels = append(s.labels, l)
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case num == 6 && typ == protowire.BytesType: // Profile.string_table
			strs = append(strs, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	str := func(i int64) string {
		if i < 0 || i >= int64(len(strs)) {
			return ""
		}
		return strs[i]
	}
	out := map[string]int64{}
	for _, s := range samples {
		stage := reports.StageUnlabelled
		for _, l := range s.labels {
			if str(l[0]) == key && str(l[1]) != "" {
				stage = str(l[1])
			}
		}
		out[stage] += s.n
	}
	return out, nil
}

// eachField calls fn with every field of the protobuf message b: for a
// varint its encoding, for bytes their content.
func eachField(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			c, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			v, n = c, m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			v = b[:n]
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// varints decodes a repeated varint field: one value, or packed ones.
func varints(typ protowire.Type, v []byte) ([]uint64, error) {
	switch typ {
	case protowire.VarintType:
		x, _ := protowire.ConsumeVarint(v)
		return []uint64{x}, nil
	case protowire.BytesType:
		var out []uint64
		for len(v) > 0 {
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			out, v = append(out, x), v[n:]
		}
		return out, nil
	}
	return nil, errors.New("sample value: unexpected wire type")
}
