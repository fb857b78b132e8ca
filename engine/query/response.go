package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

var (
	bufPool   = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	bytesPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
)

// writeJSON writes v as the JSON body with status code and returns code.
func writeJSON(w http.ResponseWriter, code int, v any) int {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	defer bufPool.Put(b)
	if err := json.NewEncoder(b).Encode(v); err != nil {
		code = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"error":"encoding the answer failed"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
	return code
}

// Header values shared by every answer (net/http only reads them).
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// inlineLength is the largest body net/http gives a Content-Length
// itself: a handler that writes at most this much in one Write and
// returns gets the header without setting it (net/http's
// bufferBeforeChunkingSize), and without the allocations of setting it.
const inlineLength = 2048

// writeBody writes b (a complete JSON document) with status code. The
// headers are set by canonical key, without Header.Set's copying.
func writeBody(w http.ResponseWriter, code int, b []byte) int {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	if len(b) > inlineLength {
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
	}
	h["Cache-Control"] = hdrNoStore
	w.WriteHeader(code)
	w.Write(b)
	return code
}

// appendFloat appends f (finite) as encoding/json writes a float64.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // "e-09" -> "e-9"
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString appends s as a JSON string: plain printable ASCII directly,
// anything else through encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"`
}

func writeError(w http.ResponseWriter, code int, param, msg string) int {
	return writeJSON(w, code, apiError{Error: msg, Param: param})
}

// writeFailure answers err: 400 for a bad parameter, 503 with Retry-After
// for an InfluxDB failure or a missing InfluxDB, 500 otherwise.
func (s *Server) writeFailure(w http.ResponseWriter, err error) int {
	var bp *badParam
	var ie *influxError
	switch {
	case errors.As(err, &bp):
		return writeError(w, http.StatusBadRequest, bp.param, bp.msg)
	case errors.As(err, &ie), errors.Is(err, errNoInflux), errors.Is(err, errWarmingUp):
		w.Header().Set("Retry-After", strconv.Itoa(int((s.cfg.retryAfter+time.Second-1)/time.Second)))
		return writeError(w, http.StatusServiceUnavailable, "", err.Error())
	case errors.Is(err, errCanceled):
		return writeError(w, 499, "", err.Error())
	}
	return writeError(w, http.StatusInternalServerError, "", err.Error())
}

// msTime is a time in unix ms, written in answers as an RFC 3339 string
// in UTC.
type msTime int64

// appendJSON appends t as a JSON string, without allocating.
func (t msTime) appendJSON(b []byte) []byte {
	b = append(b, '"')
	b = time.UnixMilli(int64(t)).UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// MarshalJSON is appendJSON for encoding/json.
func (t msTime) MarshalJSON() ([]byte, error) { return t.appendJSON(nil), nil }

func codeName(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 405:
		return "405"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}
