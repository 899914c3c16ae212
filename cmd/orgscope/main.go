// Command orgscope runs the OrgScope MCP server and administers its
// database. See the README, or run orgscope -h.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
