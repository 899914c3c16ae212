package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the orgscope command, runs it as an operator would (on
// a free port, with a fresh database), walks the curl flow its banner
// prints, and stops it with SIGTERM.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgscope")
	build := exec.Command("go", "build", "-o", bin, "../cmd/orgscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "o.db"), "--log-format", "json")
	cmd.Env = append(cmd.Environ(), "ORGSCOPE_TOKEN_TTL=5m")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = &syncBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read the banner up to the curl walkthrough's last line.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var banner strings.Builder
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("binary exited; output:\n%s\nlog:\n%s", banner.String(), cmd.Stderr)
			}
			banner.WriteString(line + "\n")
			done = strings.Contains(line, `"list_users"`)
		case <-deadline:
			t.Fatalf("no banner after 20s:\n%s", banner.String())
		}
	}
	go io.Copy(io.Discard, stdout)

	endpoint := regexp.MustCompile(`MCP endpoint:\s+(\S+)`).FindStringSubmatch(banner.String())
	if endpoint == nil {
		t.Fatalf("no MCP endpoint in banner:\n%s", banner.String())
	}
	base := strings.TrimSuffix(endpoint[1], "/mcp")
	s := &testServer{URL: base, Resource: endpoint[1], Clients: parseCredentials(banner.String())}
	if len(s.Clients) != 4 {
		t.Fatalf("banner lists %d clients, want 4:\n%s", len(s.Clients), banner.String())
	}

	resp, err := http.Post(s.Resource, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Fatalf("unauthenticated: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	token := s.token(t, s.Clients["global"])
	who := s.tool(t, token, "whoami", nil)
	if !strings.Contains(who.text(), `"global":true`) || !strings.Contains(who.text(), "list_organizations") {
		t.Errorf("global whoami: %s", who.text())
	}
	var claims struct {
		ExpiresIn int `json:"expires_in_seconds"`
	}
	remarshal(t, who.Result.StructuredContent, &claims)
	if claims.ExpiresIn <= 0 || claims.ExpiresIn > 300 {
		t.Errorf("ORGSCOPE_TOKEN_TTL=5m not applied: expires in %ds", claims.ExpiresIn)
	}
	orgs := s.tool(t, token, "list_organizations", nil)
	for _, code := range []string{"org_acme", "org_beta", "org_gamma"} {
		if !strings.Contains(orgs.text(), code) {
			t.Errorf("list_organizations lacks %s: %s", code, orgs.text())
		}
	}

	// Graceful shutdown on SIGTERM.
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
}

// TestBinaryCommandLine runs the built command as an operator would to
// ask for help and the version, and to start it with settings it must
// refuse.
func TestBinaryCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "orgscope")
	const version = "v1.2.3-e2e"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/orgscope/orgscope/internal/buildinfo.version="+version, "../cmd/orgscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// What the toolchain recorded, which `orgscope version` must report.
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	commit, built := "dev", "dev"
	if m := regexp.MustCompile(`\bvcs\.revision=([0-9a-f]{8})`).FindSubmatch(meta); m != nil {
		commit = string(m[1])
		if regexp.MustCompile(`\bvcs\.modified=true`).Match(meta) {
			commit += "+dirty"
		}
	}
	if m := regexp.MustCompile(`\bvcs\.time=(\S+)`).FindSubmatch(meta); m != nil {
		built = string(m[1])
	}
	want := fmt.Sprintf("orgscope %s (commit %s, built %s, %s)\n", version, commit, built, runtime.Version())

	orgscope := func(env []string, args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}

	for _, args := range [][]string{{"version"}, {"--version"}} {
		if code, out, _ := orgscope(nil, args...); code != 0 || out != want {
			t.Errorf("orgscope %v: exit %d, %q; want %q", args, code, out, want)
		}
	}
	if code, out, _ := orgscope(nil, "--help"); code != 0 || !strings.Contains(out, "clients create") || strings.Contains(out, "--token-ttl") {
		t.Errorf("orgscope --help: exit %d\n%s", code, out)
	}
	if code, out, _ := orgscope(nil, "serve", "-h"); code != 0 || !strings.Contains(out, "--token-ttl  [ORGSCOPE_TOKEN_TTL]") {
		t.Errorf("orgscope serve -h: exit %d\n%s", code, out)
	}

	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--token-ttl", "-5m"}, "orgscope: --token-ttl (ORGSCOPE_TOKEN_TTL) must be positive, got -5m\n"},
		{[]string{"ORGSCOPE_RATE_LIMIT=-1"}, nil, "orgscope: --rate-limit (ORGSCOPE_RATE_LIMIT) must be a number of requests per second"},
		{nil, []string{"--db", "/nope/x.db"}, "orgscope: --db /nope/x.db (ORGSCOPE_DB): directory /nope does not exist\n"},
		{nil, []string{"--public-url", "https://mcp.example.com/v1"}, "orgscope: --public-url (ORGSCOPE_PUBLIC_URL) must not have a path"},
	} {
		code, out, errOut := orgscope(tc.env, append(tc.args, "--addr", "127.0.0.1:0")...)
		if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v %v: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and %q", tc.env, tc.args, code, out, errOut, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("refused starts left files behind: %v", entries)
	}
}
