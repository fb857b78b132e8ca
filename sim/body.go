package sim

import (
	"errors"
	"io"
	"sync"
)

// bodyPool holds the byte slices of request bodies between requests: at
// thousands of events a batch a fresh body is hundreds of KiB to allocate
// and zero per request.
type bodyPool struct{ p sync.Pool }

// get is an empty slice of at least n bytes' capacity.
func (bp *bodyPool) get(n int) []byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]byte, 0, n)
}

// body is b as a request body that gives b back to bp when the HTTP client
// closes it. The client may still be writing a body after the answer has
// come (the gateway answers some requests before reading them whole, a
// 429 among them), and it may close it from another goroutine while a
// write is under way; so b is reused only after Close, and a Read that
// comes after Close reads nothing of it.
func (bp *bodyPool) body(b []byte) *pooledBody { return &pooledBody{b: b, pool: bp} }

// pooledBody is one request's body (never reused itself: a second Close,
// which the client may make, finds it closed).
type pooledBody struct {
	mu   sync.Mutex
	b    []byte // nil once closed
	off  int
	pool *bodyPool
}

var errBodyClosed = errors.New("sim: request body read after close")

func (r *pooledBody) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0, errBodyClosed
	}
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// Close gives the bytes back to the pool, once.
func (r *pooledBody) Close() error {
	r.mu.Lock()
	b := r.b
	r.b = nil
	r.mu.Unlock()
	if b != nil {
		r.pool.p.Put(&b)
	}
	return nil
}
