package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestSlogLoggerLevels(t *testing.T) {
	f := func(level kfake.LogLevel, format string, want string) {
		t.Helper()
		var b bytes.Buffer
		l := slogLogger{l: slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), errs: &errCounter{}}
		l.Logf(level, format, 7)
		if want == "" {
			if b.Len() != 0 {
				t.Errorf("%q logged %q, want nothing", format, b.String())
			}
			return
		}
		if !strings.Contains(b.String(), "level="+want) {
			t.Errorf("%q logged %q, want level %s", format, b.String(), want)
		}
	}
	f(kfake.LogLevelError, "broken %d", "ERROR")
	f(kfake.LogLevelWarn, "odd %d", "WARN")
	f(kfake.LogLevelWarn, "txn: EndTxn slow pid=%d", "INFO")
	f(kfake.LogLevelInfo, "hello %d", "INFO")
	f(kfake.LogLevelDebug, "detail %d", "DEBUG")
	f(kfake.LogLevelNone, "nothing %d", "")
}
