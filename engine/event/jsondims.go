package event

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// The dims member of the JSON form: an object of string values.

// dimsObject scans the dims member; its error is a syntax error or one
// about the first dimension of the wrong JSON type.
func (d *jsonDecoder) dimsObject() error {
	var shape error
	if d.b[d.i] != '{' {
		err := errorf(CodeDims, "dims", "must be a JSON object of string values, like {\"country\":\"US\"}, got "+quoteByte(d.b[d.i])+" at byte "+strconv.Itoa(d.i))
		if serr := d.skipValue(); serr != nil {
			return serr
		}
		return err
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.syntaxErr("'\"' starting a dimension name")
		}
		var ds dimSpan
		var err error
		if ds.name, err = d.str(); err != nil {
			return err
		}
		if d.seenDim(ds.name) {
			name := string(d.bytes(ds.name))
			return errorf(CodeFieldDuplicate, dimField(name), "dimension name "+quote(name)+" given twice; give it once")
		}
		if err := d.colon("a dimension name", "a dimension value"); err != nil {
			return err
		}
		if d.b[d.i] != '"' {
			name := string(d.bytes(ds.name))
			if shape == nil {
				shape = errorf(CodeDims, dimField(name), "dimension "+quote(name)+" must have a JSON string value, got "+quoteByte(d.b[d.i])+" at byte "+strconv.Itoa(d.i))
			}
			if err := d.skipValue(); err != nil {
				return err
			}
			d.badDims = append(d.badDims, ds.name)
		} else {
			if ds.value, err = d.str(); err != nil {
				return err
			}
			d.addDim(ds)
		}
		more, err := d.comma("a dimension")
		if err != nil {
			return err
		}
		if !more {
			return shape
		}
	}
}

// seenDim reports whether the dimension name at sp was given before in the
// object; the caller then adds it (to the dims or badDims).
func (d *jsonDecoder) seenDim(sp span) bool {
	name := d.bytes(sp)
	if d.dimSet != nil {
		if _, ok := d.dimSet[string(name)]; ok {
			return true
		}
		d.dimSet[string(name)] = struct{}{}
		return false
	}
	for i := range d.ndims {
		if bytes.Equal(d.bytes(d.dim(i).name), name) {
			return true
		}
	}
	for _, o := range d.badDims {
		if bytes.Equal(d.bytes(o), name) {
			return true
		}
	}
	if d.ndims+len(d.badDims) >= 16 {
		// Many dims (a hostile input): no quadratic time.
		d.dimSet = make(map[string]struct{}, 64)
		for i := range d.ndims {
			d.dimSet[string(d.bytes(d.dim(i).name))] = struct{}{}
		}
		for _, o := range d.badDims {
			d.dimSet[string(d.bytes(o))] = struct{}{}
		}
		d.dimSet[string(name)] = struct{}{}
	}
	return false
}

func (d *jsonDecoder) addDim(ds dimSpan) {
	if d.ndims < len(d.dimArr) {
		d.dimArr[d.ndims] = ds
	} else {
		d.moreDims = append(d.moreDims, ds)
	}
	d.ndims++
}

func (d *jsonDecoder) dim(i int) dimSpan {
	if i < len(d.dimArr) {
		return d.dimArr[i]
	}
	return d.moreDims[i-len(d.dimArr)]
}

// sortDims sorts dims by name, stably, and returns the index of the first
// of two equal names, or -1. Dims are few and usually sorted already:
// insertion sort, unless there are many (a hostile input must not take
// quadratic time).
func sortDims(dims []Dim) int {
	if len(dims) <= 32 {
		for i := 1; i < len(dims); i++ {
			for j := i; j > 0 && dims[j].Name < dims[j-1].Name; j-- {
				dims[j], dims[j-1] = dims[j-1], dims[j]
			}
		}
	} else {
		slices.SortStableFunc(dims, func(a, b Dim) int { return strings.Compare(a.Name, b.Name) })
	}
	for i := 1; i < len(dims); i++ {
		if dims[i].Name == dims[i-1].Name {
			return i - 1
		}
	}
	return -1
}
