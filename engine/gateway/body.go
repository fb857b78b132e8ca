package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Content encodings of POST /v1/events bodies besides identity.
const (
	EncodingGzip = "gzip"
	EncodingZstd = "zstd"
)

// bodyError is why a body could not be read, with the answer's status.
type bodyError struct {
	code int
	msg  string
}

// readBody reads r's body, decoded per its Content-Encoding, into b.body.
// The limit of MaxBodyBytes applies to the bytes on the wire and to the
// decoded bytes; the whole body must arrive within the body read timeout.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, b *batch) *bodyError {
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity", EncodingGzip, "x-gzip", EncodingZstd:
	default:
		w.Header().Set("Accept-Encoding", EncodingGzip+", "+EncodingZstd)
		return &bodyError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q (use %s, %s or none)", r.Header.Get("Content-Encoding"), EncodingGzip, EncodingZstd)}
	}
	if r.ContentLength > g.cfg.maxBody {
		return &bodyError{http.StatusRequestEntityTooLarge, g.tooLarge()}
	}

	// A slow client cannot hold the request (and its admission) open.
	rc := http.NewResponseController(w)
	deadlineSet := rc.SetReadDeadline(time.Now().Add(g.cfg.bodyTimeout)) == nil
	if deadlineSet {
		defer rc.SetReadDeadline(time.Time{})
	}

	wire := http.MaxBytesReader(w, r.Body, g.cfg.maxBody)
	var body io.Reader = wire
	switch enc {
	case EncodingGzip, "x-gzip":
		zr, err := gzip.NewReader(wire)
		if err != nil {
			return g.readErr(w, err, "gzip")
		}
		defer zr.Close()
		body = zr
	case EncodingZstd:
		zr, err := zstd.NewReader(wire, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxMemory(uint64(g.cfg.maxBody)+1))
		if err != nil {
			return g.readErr(w, err, "zstd")
		}
		defer zr.Close()
		body = zr
	}
	if enc == "" || enc == "identity" {
		if r.ContentLength > 0 {
			b.body.Grow(int(r.ContentLength))
		}
	}
	// One byte more than the limit tells a body that is too large.
	n, err := b.body.ReadFrom(io.LimitReader(body, g.cfg.maxBody+1))
	if err != nil {
		return g.readErr(w, err, enc)
	}
	if n > g.cfg.maxBody {
		return &bodyError{http.StatusRequestEntityTooLarge, g.tooLarge()}
	}
	return nil
}

// readErr is the answer to a failed body read.
func (g *Gateway) readErr(w http.ResponseWriter, err error, enc string) *bodyError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return &bodyError{http.StatusRequestEntityTooLarge, g.tooLarge()}
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		return &bodyError{http.StatusRequestTimeout, "the request body did not arrive within the body read timeout of " + g.cfg.bodyTimeout.String() + "; send it faster or in smaller batches"}
	case enc != "" && enc != "identity":
		return &bodyError{http.StatusBadRequest, "reading the body: not valid " + enc + " data: " + err.Error()}
	}
	return &bodyError{http.StatusBadRequest, "reading the body: " + err.Error()}
}

func (g *Gateway) tooLarge() string {
	return "request body larger than the limit of " + strconv.FormatInt(g.cfg.maxBody, 10) + " bytes (max body bytes, on the wire and decoded); split the batch"
}
