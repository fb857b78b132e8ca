package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressLine is the live progress on stderr: one line rewritten with \r
// on a terminal, a line every 5 s otherwise.
type progressLine struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	text func() string
	last int
}

func newProgressLine(w io.Writer) *progressLine {
	p := &progressLine{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progressLine) set(f func() string) {
	p.mu.Lock()
	p.text = f
	p.mu.Unlock()
}

func (p *progressLine) loop(ctx context.Context, f func() string) {
	p.set(f)
	every := 5 * time.Second
	if p.tty {
		every = 500 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progressLine) print() {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.text()
	if p.tty {
		pad := ""
		if n := p.last - len(s); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(p.w, "\r%s%s", s, pad)
		p.last = len(s)
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.last > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.last))
		p.last = 0
	}
}
