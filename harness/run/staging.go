package run

// Chaos against staging, at the end of a run: --delete-topics deletes the
// run's topics on an external cluster (the opt-in of external targets is
// checked before the run: needs.go).

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/countlab/countlab/engine/kafka"
)

// deleteTopics deletes every topic on conn's cluster whose name begins
// with prefix.
func deleteTopics(ctx context.Context, conn kafka.Conn, prefix string, out io.Writer) error {
	if prefix == "" {
		return nil
	}
	cl, err := conn.NewClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("--delete-topics: list topics: %w", err)
	}
	var names []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, prefix) {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return nil
	}
	res, err := adm.DeleteTopics(ctx, names...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("--delete-topics: %w", err)
	}
	fmt.Fprintf(out, "  deleted the run's topics: %s\n", strings.Join(names, ", "))
	return nil
}
