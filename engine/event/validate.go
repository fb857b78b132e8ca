package event

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTypes are the event types a Validator accepts by default.
var DefaultTypes = []string{"VIEW", "LIKE", "SHARE", "CLICK", "IMPRESSION", "VISIT"}

// Limits of a default Validator.
const (
	DefaultMaxIDLen        = 128
	DefaultMaxKeyLen       = 256
	DefaultMaxDims         = 16
	DefaultMaxDimValueLen  = 128
	maxDimNameLen          = 64
	defaultMaxTSYear       = 3000
	dimValueReservedBytes  = ",=|"
	dimNamePattern         = "[A-Za-z0-9_]{1,64}"
	dimValueReservedReason = "',', '=' and '|' are reserved for the canonical dimension set \"a=b,c=d\""
)

// Validator checks that a decoded event may be counted. It is safe for
// concurrent use.
type Validator struct {
	cfg      validatorCfg
	typeList string // for errors: "VIEW, LIKE, ..."
}

type validatorCfg struct {
	types          []string
	maxIDLen       int
	maxKeyLen      int
	maxDims        int
	maxDimValueLen int
	minTS, maxTS   int64 // exclusive bounds, unix ms
}

// ValidatorOpt configures a Validator.
type ValidatorOpt interface{ apply(*validatorCfg) }

type validatorOpt func(*validatorCfg)

func (o validatorOpt) apply(c *validatorCfg) { o(c) }

// Types sets the accepted event types (default DefaultTypes). A type is 1
// to 64 bytes of [A-Za-z0-9_].
func Types(types ...string) ValidatorOpt {
	types = append([]string(nil), types...)
	return validatorOpt(func(c *validatorCfg) { c.types = types })
}

// MaxIDLen sets the longest accepted id in bytes (default 128).
func MaxIDLen(n int) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxIDLen = n })
}

// MaxKeyLen sets the longest accepted key in bytes (default 256).
func MaxKeyLen(n int) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxKeyLen = n })
}

// MaxDims sets the most dimensions an event may have (default 16; 0 allows
// none).
func MaxDims(n int) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxDims = n })
}

// MaxDimValueLen sets the longest accepted dimension value in bytes
// (default 128).
func MaxDimValueLen(n int) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxDimValueLen = n })
}

// TSRange sets the accepted event times: after min and before max (default:
// after the unix epoch and before year 3000).
func TSRange(min, max time.Time) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.minTS, c.maxTS = min.UnixMilli(), max.UnixMilli() })
}

func defaultValidatorCfg() validatorCfg {
	return validatorCfg{
		types:          DefaultTypes,
		maxIDLen:       DefaultMaxIDLen,
		maxKeyLen:      DefaultMaxKeyLen,
		maxDims:        DefaultMaxDims,
		maxDimValueLen: DefaultMaxDimValueLen,
		minTS:          0,
		maxTS:          time.Date(defaultMaxTSYear, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(),
	}
}

func (c *validatorCfg) validate() error {
	if len(c.types) == 0 {
		return errors.New("event: validator: no event types")
	}
	seen := make(map[string]bool, len(c.types))
	for _, t := range c.types {
		if !isDimName(t) {
			return fmt.Errorf("event: validator: type %q is not %s", t, dimNamePattern)
		}
		if seen[t] {
			return fmt.Errorf("event: validator: type %q given twice", t)
		}
		seen[t] = true
	}
	switch {
	case c.maxIDLen < 1:
		return fmt.Errorf("event: validator: MaxIDLen %d < 1", c.maxIDLen)
	case c.maxKeyLen < 1:
		return fmt.Errorf("event: validator: MaxKeyLen %d < 1", c.maxKeyLen)
	case c.maxDims < 0:
		return fmt.Errorf("event: validator: MaxDims %d < 0", c.maxDims)
	case c.maxDimValueLen < 1:
		return fmt.Errorf("event: validator: MaxDimValueLen %d < 1", c.maxDimValueLen)
	case c.maxTS-c.minTS < 2:
		return fmt.Errorf("event: validator: empty TSRange (%d, %d)", c.minTS, c.maxTS)
	}
	return nil
}

// NewValidator returns a Validator with the given options over the
// defaults: types DefaultTypes; id 1 to 128 bytes; key 1 to 256 bytes
// without control characters; value finite; ts after the epoch and before
// year 3000; at most 16 dimensions, named [A-Za-z0-9_]{1,64}, with values
// of 1 to 128 bytes without ',', '=', '|' or control characters. All
// strings must be valid UTF-8. NewValidator() with no options never fails.
func NewValidator(opts ...ValidatorOpt) (*Validator, error) {
	cfg := defaultValidatorCfg()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.types = slices.Clone(cfg.types) // DefaultTypes may change later
	return &Validator{cfg: cfg, typeList: strings.Join(cfg.types, ", ")}, nil
}

// Validate returns nil if e may be counted, else an *Error naming the first
// bad field.
func (v *Validator) Validate(e *Event) error {
	c := &v.cfg
	if err := checkString("id", e.ID, c.maxIDLen, false); err != nil {
		return err
	}
	if err := checkString("key", e.Key, c.maxKeyLen, true); err != nil {
		return err
	}
	if !v.knownType(e.Type) {
		if e.Type == "" {
			return errorf("type", "missing; want one of "+v.typeList)
		}
		return errorf("type", quote(e.Type)+" is not an accepted type; want one of "+v.typeList)
	}
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		return errorf("value", strconv.FormatFloat(e.Value, 'g', -1, 64)+" is not a finite number")
	}
	if e.TS <= c.minTS || e.TS >= c.maxTS {
		if e.TS == 0 {
			return errorf("ts", "missing; want RFC3339 text or unix milliseconds")
		}
		return errorf("ts", strconv.FormatInt(e.TS, 10)+" ("+e.Time().Format(time.RFC3339Nano)+") is out of range; want after "+
			time.UnixMilli(c.minTS).UTC().Format(time.RFC3339)+" and before "+time.UnixMilli(c.maxTS).UTC().Format(time.RFC3339)+" in unix milliseconds")
	}
	if len(e.Dims) > c.maxDims {
		return errorf("dims", strconv.Itoa(len(e.Dims))+" dimensions, more than the "+strconv.Itoa(c.maxDims)+" allowed")
	}
	for i, d := range e.Dims {
		if !isDimName(d.Name) {
			return errorf("dims", "name "+quote(d.Name)+" is not "+dimNamePattern)
		}
		if i > 0 && d.Name <= e.Dims[i-1].Name {
			if d.Name == e.Dims[i-1].Name {
				return errorf(dimField(d.Name), "dimension given twice")
			}
			return errorf("dims", "not sorted by name ("+quote(d.Name)+" after "+quote(e.Dims[i-1].Name)+")")
		}
		if err := checkDimValue(d, c.maxDimValueLen); err != nil {
			return err
		}
	}
	return nil
}

func (v *Validator) knownType(t string) bool {
	for _, k := range v.cfg.types {
		if t == k {
			return true
		}
	}
	return false
}

// checkString checks a string field's length (1 to max bytes), UTF-8, and,
// if printable, the absence of control characters.
func checkString(field, s string, max int, printable bool) error {
	switch {
	case s == "":
		return errorf(field, "missing; want 1 to "+strconv.Itoa(max)+" bytes")
	case len(s) > max:
		return errorf(field, strconv.Itoa(len(s))+" bytes, longer than the "+strconv.Itoa(max)+" allowed")
	case !utf8.ValidString(s):
		return errorf(field, "not valid UTF-8")
	}
	if printable {
		if i, r := controlChar(s); i >= 0 {
			return errorf(field, "control character "+runeName(r)+" at byte "+strconv.Itoa(i)+"; want printable text")
		}
	}
	return nil
}

func checkDimValue(d Dim, max int) error {
	switch {
	case d.Value == "":
		return errorf(dimField(d.Name), "empty value; want 1 to "+strconv.Itoa(max)+" bytes")
	case len(d.Value) > max:
		return errorf(dimField(d.Name), "value "+strconv.Itoa(len(d.Value))+" bytes, longer than the "+strconv.Itoa(max)+" allowed")
	case !utf8.ValidString(d.Value):
		return errorf(dimField(d.Name), "value not valid UTF-8")
	}
	if i := strings.IndexAny(d.Value, dimValueReservedBytes); i >= 0 {
		return errorf(dimField(d.Name), "value "+quote(d.Value)+" has "+quoteByte(d.Value[i])+"; "+dimValueReservedReason)
	}
	if i, r := controlChar(d.Value); i >= 0 {
		return errorf(dimField(d.Name), "value has control character "+runeName(r)+" at byte "+strconv.Itoa(i)+"; want printable text")
	}
	return nil
}

// controlChar returns the byte index and rune of the first control
// character (C0, DEL or C1) of the valid UTF-8 s, or -1.
func controlChar(s string) (int, rune) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for j, r := range s[i:] {
				if r < 0x20 || r >= 0x7f && r < 0xa0 {
					return i + j, r
				}
			}
			return -1, 0
		}
		if c < 0x20 || c == 0x7f {
			return i, rune(c)
		}
	}
	return -1, 0
}

// runeName is r for an error message: U+0085.
func runeName(r rune) string {
	const hex = "0123456789ABCDEF"
	return "U+" + string([]byte{hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]})
}

// isDimName reports whether s is [A-Za-z0-9_]{1,64}.
func isDimName(s string) bool {
	if s == "" || len(s) > maxDimNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
