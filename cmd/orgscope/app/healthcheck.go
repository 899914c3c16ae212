package app

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultHealthURL is what healthcheck probes when given no URL: the
// server on its default address, as a container's HEALTHCHECK runs it.
const DefaultHealthURL = "http://127.0.0.1:8080/healthz"

// healthcheck exits 0 when URL answers 200 within the timeout, for
// orchestrators whose image has no curl (distroless).
func (c cli) healthcheck(ctx context.Context, args []string) error {
	timeout := 3 * time.Second
	cmd := newCommand("healthcheck", "orgscope healthcheck [URL] [--timeout 3s]")
	cmd.about = "Exits 0 when URL (default " + DefaultHealthURL + ") answers 200, 1 otherwise: a HEALTHCHECK for images without curl."
	cmd.positional, cmd.optional = "URL", true
	cmd.fs.DurationVar(&timeout, "timeout", timeout, "how long to wait for the answer")
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	target := cmp.Or(cmd.arg, DefaultHealthURL)
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &usageError{err: fmt.Errorf("URL must be an absolute http(s) URL, got %q", target), hint: cmd.hint()}
	}
	if timeout <= 0 {
		return usageErrorf("%s must be positive", flagRef("timeout"))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %d", target, resp.StatusCode)
	}
	fmt.Fprintf(c.stdout, "healthy: %s answered 200\n", target)
	return nil
}
