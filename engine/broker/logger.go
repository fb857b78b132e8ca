package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kfake"
)

// slogLogger sends kfake's log lines to a slog.Logger at their level, and
// counts the errors.
type slogLogger struct {
	l    *slog.Logger
	errs *errCounter
}

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
