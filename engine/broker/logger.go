package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
)

// slogLogger sends kfake's log lines to a slog.Logger at their level, and
// counts the errors.
type slogLogger struct {
	l    *slog.Logger
	errs *errCounter
}

// slowEndTxn starts kfake's warning about an EndTxn that took over 5 ms.
const slowEndTxn = "txn: EndTxn slow"

// errCounter counts the error lines kfake logged.
type errCounter struct{ n atomic.Int64 }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		s.errs.n.Add(1)
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
		if strings.HasPrefix(format, slowEndTxn) {
			// kfake's own timing diagnostic (an EndTxn over 5 ms, common
			// on a busy machine): nothing is wrong, so not a warning.
			sl = slog.LevelInfo
		}
	case kfake.LogLevelInfo:
		sl = slog.LevelInfo
	case kfake.LogLevelNone:
		return
	default:
		sl = slog.LevelDebug
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, sl) {
		return
	}
	s.l.Log(ctx, sl, "kfake: "+fmt.Sprintf(format, args...))
}
