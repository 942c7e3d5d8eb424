// Command allot is the gateway, its admin CLI and its demo in one binary.
// This package only wires the other packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/allot-dev/allot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	if err := cmd.ExecuteContext(ctx); err != nil {
		var e *allot.Error
		if errors.As(err, &e) {
			fmt.Fprintln(os.Stderr, "allot:", e.Message)
		} else {
			fmt.Fprintln(os.Stderr, "allot:", err)
		}
		os.Exit(1)
	}
}
