//go:build !beam

package main

import (
	"context"
	"errors"
	"io"

	"github.com/dokja/dokja/data"
)

// beamBuilt reports whether this binary can run pipelines on Apache Beam.
// The Beam Go SDK (gRPC, protobuf, the runners' clients) takes about 120
// MB of a binary, more than a third of it, so it is built in only with
// -tags beam (make build-beam); the local runner needs none of it.
const beamBuilt = false

func runDataBeam(context.Context, *data.Config, string, string, string, io.Writer) error {
	return errors.New("--runner: this dokja was built without Apache Beam, which takes about 120 MB of the binary; build one with it (make build-beam, or go build -tags beam ./cmd/dokja) to run pipelines on Beam")
}
