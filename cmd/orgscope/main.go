// Command orgscope runs the OrgScope MCP server and administers its
// database. See the README, or run orgscope -h.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

func main() {
	// An MCP call allocates mostly short-lived JSON buffers inside the
	// go-sdk; collecting a quarter as often halves the CPU of a call
	// (BenchmarkWhoamiCall: 398 µs at GOGC=100, 219 µs at 400) for a few
	// more MB of heap. A GOGC in the environment still decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
