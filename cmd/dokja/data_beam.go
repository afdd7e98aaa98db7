//go:build beam

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/data/beamrun"
)

// beamBuilt reports whether this binary can run pipelines on Apache Beam
// (built with -tags beam: make build-beam).
const beamBuilt = true

func runDataBeam(ctx context.Context, cfg *data.Config, config, out, runner string, stdout io.Writer) error {
	beamrun.Env = &dataEnv
	path := filepath.Join(out, "beam", "output.jsonl")
	res, err := beamrun.Run(ctx, cfg, filepath.Dir(config), beamrun.Options{Out: path, Runner: runner})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s*\n", path)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(res.Counters)) {
		fmt.Fprintf(tw, "%s\t%d\n", k, res.Counters[k])
	}
	return tw.Flush()
}
