package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/countlab/countlab/sim/oracle"
)

// LoadTruths loads the saved truth of every path (a truth file, or a
// directory holding TruthFile) and merges them (oracle.Merge) with their
// identities (IdentitiesFile beside each, as Shard writes them), so that
// a cross-shard duplicate fails the check; a shard without identities is
// merged by its windows alone, with a warning to warn. Every error starts
// with the path; the shards overlapping is oracle.ErrShardsOverlap.
func LoadTruths(paths []string, warn io.Writer) (*oracle.Oracle, error) {
	var all *oracle.Oracle
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, TruthFile)
		}
		o, err := oracle.Load(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if len(paths) == 1 {
			return o, nil
		}
		ids := strings.TrimSuffix(p, filepath.Ext(p)) + filepath.Ext(IdentitiesFile)
		switch err := o.LoadIdentities(ids); {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(warn, "countlab check: %s has no %s beside it: its overlap with the other shards is not checked\n", p, filepath.Base(ids))
		case err != nil:
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		if all == nil {
			all = o
			continue
		}
		if err := all.Merge(o); errors.Is(err, oracle.ErrShardsOverlap) {
			return nil, fmt.Errorf("%s: %w", p, err)
		} else if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
	}
	return all, nil
}
