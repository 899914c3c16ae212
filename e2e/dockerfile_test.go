package e2e

import (
	"debug/elf"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/orgscope/orgscope/cmd/orgscope/app"
)

// dockerfile reads the repository's Dockerfile as instructions, one a
// line, continuations joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// shellWords splits a RUN command as sh would for plain words and double
// quotes (all the Dockerfile uses), expanding ${NAME} from vars.
func shellWords(s string, vars map[string]string) []string {
	s = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(m string) string { return vars[m[2:len(m)-1]] })
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case r == ' ' && !inQuote:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDockerfileBuildStage: no container engine runs on the CI machine, so
// the image is not built there; instead this runs the build stage's go
// build command line as written (CGO off, the version stamped) and checks
// that it makes a static binary that runs, that the Go image matches
// go.mod, and that the final stage keeps its promises: non-root, the
// volume, the port, a health check that needs no curl.
func TestDockerfileBuildStage(t *testing.T) {
	lines := dockerfile(t)
	var build string
	for _, l := range lines {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			build = strings.TrimPrefix(l, "RUN ")
		}
	}
	if build == "" {
		t.Fatal("no RUN … go build in the Dockerfile")
	}
	words := shellWords(build, map[string]string{"VERSION": "v0.0.0-dockerfile-test"})
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") {
		t.Errorf("the build runs with %v; it must set CGO_ENABLED=0 for a static binary", env)
	}
	bin := filepath.Join(t.TempDir(), "orgscope")
	for i, w := range words {
		if w == "-o" && i+1 < len(words) {
			words[i+1] = bin
		}
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("unexpected build command %q", build)
	}
	cmd := exec.Command("go", words[1:]...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; distroless/static has no libc")
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v0.0.0-dockerfile-test") {
		t.Errorf("the built binary's version: %q %v; the -X flag no longer stamps it", out, err)
	}

	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	text := strings.Join(lines, "\n")
	if goVersion == nil || !strings.Contains(text, "FROM golang:"+string(goVersion[1])) {
		t.Errorf("the build stage's Go image does not match go.mod's go %s", goVersion[1])
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static\S*$`),
		regexp.MustCompile(`(?m)^USER (65532|nonroot)`),
		regexp.MustCompile(`(?m)^VOLUME \["/data"\]$`),
		regexp.MustCompile(`(?m)^EXPOSE 8080$`),
		regexp.MustCompile(`(?m)ORGSCOPE_DB=/data/orgscope\.db`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/orgscope", "healthcheck", "http://127\.0\.0\.1:8080/healthz"\]$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/orgscope"\]$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the Dockerfile has no line matching %s", want)
		}
	}
}

// TestHealthcheckCommand: what the image's HEALTHCHECK runs: exit 0 while
// the server answers /healthz, 1 when nothing listens.
func TestHealthcheckCommand(t *testing.T) {
	s := startServer(t, serverOptions{})
	if code := app.Main(t.Context(), []string{"healthcheck", s.URL + "/healthz"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthy server: exit %d", code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()
	var stderr strings.Builder
	if code := app.Main(t.Context(), []string{"healthcheck", dead, "--timeout", "2s"}, io.Discard, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "unhealthy") {
		t.Errorf("nothing listening: exit %d, %q", code, stderr.String())
	}
	if code := app.Main(t.Context(), []string{"healthcheck", s.URL + "/nope"}, io.Discard, io.Discard); code != 1 {
		t.Errorf("a 404: exit %d", code)
	}
}
