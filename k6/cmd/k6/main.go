// Command k6 is k6 with countlab's extension (k6/x/countlab) built in: the
// main package xk6 would generate, written out because xk6 itself cannot
// be downloaded here. Build it with
//
//	cd k6 && go build -o ../bin/k6 ./cmd/k6
package main

import (
	k6cmd "go.k6.io/k6/cmd"

	_ "github.com/countlab/countlab/k6/countlab"
)

func main() {
	k6cmd.Execute()
}
