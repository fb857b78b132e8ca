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
	DefaultMaxFutureSkew   = 5 * time.Minute
	DefaultMaxAge          = 7 * 24 * time.Hour
	DefaultWindowSize      = time.Minute
	maxDimNameLen          = 64
	dimValueReservedBytes  = ",=|\\"
	dimNamePattern         = "[A-Za-z0-9_]{1,64}"
	dimValueReservedReason = "',', '=' and '|' are reserved for the canonical dimension set \"a=b,c=d\", and InfluxDB cannot store a backslash byte-exact"
)

// MaxValue is the largest |value| accepted: 2^53, so that no window's sum
// of accepted values overflows a float64 and whole values add up exactly.
const MaxValue = 1 << 53

// MaxWindowEnd is the latest window end accepted, 2262-04-11T23:47:16Z in
// unix milliseconds: InfluxDB stores a window at its start as nanoseconds
// in an int64.
const MaxWindowEnd = 9223372036000

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
	maxFutureSkew  int64 // ms
	maxAge         int64 // ms
	skewText       string
	ageText        string
	windows        []int64 // ms
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

// MaxFutureSkew sets how far after the reference time an event time may be
// (default 5 min; code ts_future).
func MaxFutureSkew(d time.Duration) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxFutureSkew, c.skewText = d.Milliseconds(), d.String() })
}

// MaxAge sets how far before the reference time an event time may be
// (default 7 days; code ts_too_old).
func MaxAge(d time.Duration) ValidatorOpt {
	return validatorOpt(func(c *validatorCfg) { c.maxAge, c.ageText = d.Milliseconds(), d.String() })
}

// WindowSizes are the engine's window sizes (default one minute): no
// window of an accepted event ends after MaxWindowEnd (code ts_range).
func WindowSizes(sizes ...time.Duration) ValidatorOpt {
	ms := make([]int64, len(sizes))
	for i, d := range sizes {
		ms[i] = d.Milliseconds()
	}
	return validatorOpt(func(c *validatorCfg) { c.windows = ms })
}

func defaultValidatorCfg() validatorCfg {
	return validatorCfg{
		types:          DefaultTypes,
		maxIDLen:       DefaultMaxIDLen,
		maxKeyLen:      DefaultMaxKeyLen,
		maxDims:        DefaultMaxDims,
		maxDimValueLen: DefaultMaxDimValueLen,
		maxFutureSkew:  DefaultMaxFutureSkew.Milliseconds(),
		maxAge:         DefaultMaxAge.Milliseconds(),
		skewText:       DefaultMaxFutureSkew.String(),
		ageText:        DefaultMaxAge.String(),
		windows:        []int64{DefaultWindowSize.Milliseconds()},
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
	for _, w := range c.windows {
		if w < 1 {
			return fmt.Errorf("event: validator: window size %dms < 1ms", w)
		}
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
	case c.maxFutureSkew < 0:
		return fmt.Errorf("event: validator: MaxFutureSkew %dms < 0", c.maxFutureSkew)
	case c.maxAge < 0:
		return fmt.Errorf("event: validator: MaxAge %dms < 0", c.maxAge)
	case len(c.windows) == 0:
		return errors.New("event: validator: no window sizes")
	}
	return nil
}

// NewValidator returns a Validator with the given options over the
// defaults, which docs/ingest-contract.md lists: types DefaultTypes; id up
// to 128 bytes; key up to 256 bytes without control characters or '\\';
// |value| <= 2^53; ts within 5 minutes ahead of and 7 days behind the
// reference time, after the epoch, and with one-minute windows ending by
// 2262-04-11T23:47:16Z; at most 16 dimensions, named [A-Za-z0-9_]{1,64},
// with values of 1 to 128 bytes without ',', '=', '|', '\\' or control
// characters. All strings must be valid UTF-8. NewValidator() with no
// options never fails.
func NewValidator(opts ...ValidatorOpt) (*Validator, error) {
	cfg := defaultValidatorCfg()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.types = slices.Clone(cfg.types) // DefaultTypes may change later
	cfg.windows = slices.Clone(cfg.windows)
	return &Validator{cfg: cfg, typeList: strings.Join(cfg.types, ", ")}, nil
}

// Validate is ValidateAt without a reference time: every check but
// ts_unit, ts_future and ts_too_old, which need one. Entry points use
// ValidateAt; Validate is for events whose time is checked elsewhere.
func (v *Validator) Validate(e *Event) error { return v.validate(e, 0, false, nil) }

// ValidateAt returns nil if e may be counted at the reference time ref
// (unix ms: the gateway's receive time, or the Kafka record's timestamp),
// else an *Error with the Code of the first check of
// docs/ingest-contract.md that fails (checks 4 to 13; the decoders do 1 to
// 3).
func (v *Validator) ValidateAt(e *Event, ref int64) error { return v.validate(e, ref, true, nil) }

// ValidateDecodedAt is the verdict on an event a decoder (Decode,
// DecodeJSON, DecodeProto, a batch decoder) returned with decodeErr: nil
// if e may be counted at ref, else the *Error of the first check that
// fails. A JSON member of the wrong type ("value":"1", "ts":1.5,
// "dims":[], a number beyond a double) is refused at that member's place
// in the contract's order, so an earlier check (a missing, too long or
// bad id, key or type) decides first; any other decode error (checks 1 to
// 3) is returned as it is. Entry points use it rather than ValidateAt.
func (v *Validator) ValidateDecodedAt(e *Event, ref int64, decodeErr error) error {
	if decodeErr == nil {
		return v.validate(e, ref, true, nil)
	}
	var de *Error
	if !errors.As(decodeErr, &de) || de.types == nil {
		return decodeErr
	}
	return v.validate(e, ref, true, de.types)
}

// validate runs checks 4 to 13; types are the members of the wrong JSON
// type (nil: none), each refused at its field's place.
func (v *Validator) validate(e *Event, ref int64, hasRef bool, types *fieldTypes) error {
	c := &v.cfg
	if err := checkUTF8(e); err != nil {
		return err
	}
	// A member of the wrong type is there: not missing.
	for _, f := range [...]struct {
		field   uint8
		missing bool
	}{{fieldID, e.ID == ""}, {fieldKey, e.Key == ""}, {fieldType, e.Type == ""}, {fieldTS, e.TS == 0 && !e.TSNumber}} {
		if f.missing && types.at(f.field) == nil {
			return missingErr(fieldNames[f.field])
		}
	}
	if err := types.at(fieldID); err != nil {
		return err
	}
	if err := checkString(CodeID, "id", e.ID, c.maxIDLen, false); err != nil {
		return err
	}
	if err := types.at(fieldKey); err != nil {
		return err
	}
	if err := checkString(CodeKey, "key", e.Key, c.maxKeyLen, true); err != nil {
		return err
	}
	if i := strings.IndexByte(e.Key, '\\'); i >= 0 {
		return errorf(CodeKey, "key", "'\\' at byte "+strconv.Itoa(i)+"; a key must not hold a backslash (InfluxDB cannot store it byte-exact)")
	}
	if err := types.at(fieldType); err != nil {
		return err
	}
	if !v.knownType(e.Type) {
		return errorf(CodeType, "type", quote(e.Type)+" is not an accepted type; want one of "+v.typeList)
	}
	if err := types.at(fieldValue); err != nil {
		return err
	}
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) || math.Abs(e.Value) > MaxValue {
		return errorf(CodeValue, "value", strconv.FormatFloat(e.Value, 'g', -1, 64)+" is not a finite number within ±2^53 (9007199254740992)")
	}
	if err := types.at(fieldTS); err != nil {
		return err
	}
	if hasRef {
		if err := v.checkTSAt(e, ref); err != nil {
			return err
		}
	}
	if err := v.checkTSRange(e.TS); err != nil {
		return err
	}
	if err := types.at(fieldDims); err != nil {
		return err
	}
	return v.checkDims(e.Dims)
}

// inWindow reports whether ts is within the ref-relative bounds.
func (v *Validator) inWindow(ts, ref int64) bool {
	return ts <= v.latest(ref) && ts >= v.earliest(ref)
}

// latest is ref + the future skew, earliest ref - the maximum age, both
// saturating at the int64 bounds.
func (v *Validator) latest(ref int64) int64 {
	if ref > math.MaxInt64-v.cfg.maxFutureSkew {
		return math.MaxInt64
	}
	return ref + v.cfg.maxFutureSkew
}

func (v *Validator) earliest(ref int64) int64 {
	if ref < math.MinInt64+v.cfg.maxAge {
		return math.MinInt64
	}
	return ref - v.cfg.maxAge
}

// checkTSAt is the checks ts_unit, ts_future and ts_too_old.
func (v *Validator) checkTSAt(e *Event, ref int64) error {
	ts := e.TS
	if v.inWindow(ts, ref) {
		return nil
	}
	if e.TSNumber {
		const maxMs = math.MaxInt64 / 1000
		switch {
		case ts > -maxMs && ts < maxMs && v.inWindow(ts*1000, ref):
			return errorf(CodeTSUnit, "ts", strconv.FormatInt(ts, 10)+" looks like unix seconds; want unix milliseconds ("+strconv.FormatInt(ts*1000, 10)+")")
		case v.inWindow(ts/1000, ref):
			return errorf(CodeTSUnit, "ts", strconv.FormatInt(ts, 10)+" looks like unix microseconds; want unix milliseconds ("+strconv.FormatInt(ts/1000, 10)+")")
		case v.inWindow(ts/1_000_000, ref):
			return errorf(CodeTSUnit, "ts", strconv.FormatInt(ts, 10)+" looks like unix nanoseconds; want unix milliseconds ("+strconv.FormatInt(ts/1_000_000, 10)+")")
		}
	}
	if ts > v.latest(ref) {
		return errorf(CodeTSFuture, "ts", tsText(ts)+" is more than "+v.cfg.skewText+" after the time it was received ("+tsText(ref)+")")
	}
	return errorf(CodeTSTooOld, "ts", tsText(ts)+" is more than "+v.cfg.ageText+" before the time it was received ("+tsText(ref)+")")
}

// checkTSRange is the check ts_range.
func (v *Validator) checkTSRange(ts int64) error {
	if ts <= 0 {
		return errorf(CodeTSRange, "ts", tsText(ts)+" is not after 1970-01-01T00:00:00Z; want RFC 3339 text or unix milliseconds")
	}
	// ts - ts%size + size <= MaxWindowEnd for every size, without
	// overflow (the largest size's window need not end last).
	for _, size := range v.cfg.windows {
		if ts > MaxWindowEnd || ts-ts%size > MaxWindowEnd-size {
			return errorf(CodeTSRange, "ts", tsText(ts)+" has a window ending after 2262-04-11T23:47:16Z, the last time InfluxDB can store")
		}
	}
	return nil
}

// tsText is ts in unix milliseconds and, when it is one, as RFC 3339 text.
func tsText(ts int64) string {
	s := strconv.FormatInt(ts, 10)
	if ts >= 0 && ts <= maxRFC3339TS {
		s += " (" + string(appendRFC3339(nil, ts)) + ")"
	}
	return s
}

func (v *Validator) checkDims(dims []Dim) error {
	c := &v.cfg
	if len(dims) > c.maxDims {
		return errorf(CodeDims, "dims", strconv.Itoa(len(dims))+" dimensions, more than the "+strconv.Itoa(c.maxDims)+" allowed")
	}
	for i, d := range dims {
		if !isDimName(d.Name) {
			return errorf(CodeDims, "dims", "name "+quote(d.Name)+" is not "+dimNamePattern)
		}
		if i > 0 && d.Name <= dims[i-1].Name {
			if d.Name == dims[i-1].Name {
				return errorf(CodeFieldDuplicate, dimField(d.Name), "dimension given twice")
			}
			return errorf(CodeDims, "dims", "not sorted by name ("+quote(d.Name)+" after "+quote(dims[i-1].Name)+")")
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

// checkUTF8 is the check utf8 (which the decoders do first).
func checkUTF8(e *Event) error {
	for _, f := range [...]struct{ name, s string }{{"id", e.ID}, {"key", e.Key}, {"type", e.Type}} {
		if !utf8.ValidString(f.s) {
			return errorf(CodeUTF8, f.name, "not valid UTF-8")
		}
	}
	for _, d := range e.Dims {
		if !utf8.ValidString(d.Name) || !utf8.ValidString(d.Value) {
			return errorf(CodeUTF8, "dims", "dimension "+quote(d.Name)+": not valid UTF-8")
		}
	}
	return nil
}

// checkString checks a string field's length (at most max bytes) and, if
// printable, the absence of control characters.
func checkString(code, field, s string, max int, printable bool) error {
	if len(s) > max {
		return errorf(code, field, strconv.Itoa(len(s))+" bytes, longer than the "+strconv.Itoa(max)+" allowed")
	}
	if printable {
		if i, r := controlChar(s); i >= 0 {
			return errorf(code, field, "control character "+runeName(r)+" at byte "+strconv.Itoa(i)+"; want printable text")
		}
	}
	return nil
}

func checkDimValue(d Dim, max int) error {
	switch {
	case d.Value == "":
		return errorf(CodeDims, dimField(d.Name), "empty value; want 1 to "+strconv.Itoa(max)+" bytes")
	case len(d.Value) > max:
		return errorf(CodeDims, dimField(d.Name), "value "+strconv.Itoa(len(d.Value))+" bytes, longer than the "+strconv.Itoa(max)+" allowed")
	}
	if i := strings.IndexAny(d.Value, dimValueReservedBytes); i >= 0 {
		return errorf(CodeDims, dimField(d.Name), "value "+quote(d.Value)+" has "+quoteByte(d.Value[i])+"; "+dimValueReservedReason)
	}
	if i, r := controlChar(d.Value); i >= 0 {
		return errorf(CodeDims, dimField(d.Name), "value has control character "+runeName(r)+" at byte "+strconv.Itoa(i)+"; want printable text")
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
