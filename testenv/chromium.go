package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables of the browser tests.
const (
	// EnvChromium names the Chromium binary to use instead of looking for `chromium` on PATH.
	EnvChromium = "SIGNOFF_CHROMIUM"
	// EnvTestOutput is where tests keep artifacts worth looking at afterwards (screenshots).
	EnvTestOutput = "SIGNOFF_TEST_OUTPUT"
)

// chromiumLock serialises the install between the test packages `go test ./...` runs in parallel.
const chromiumLock = "/tmp/signoff-chromium.lock"

// chromiumMu serialises the install between the tests of one process (the file lock does it between
// processes); chromiumPath is the binary once found and checked.
var (
	chromiumMu   sync.Mutex
	chromiumPath string
)

// findChromium returns the Chromium binary, or "" when there is none.
func findChromium() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium"
	}
	return ""
}

// Chromium returns the path of Debian's Chromium for browser tests. When it is missing and the tests
// run as root it installs it with apt (once, under a file lock shared by parallel test packages);
// otherwise the test fails loudly: browser tests never skip.
func Chromium(t testing.TB) string {
	t.Helper()
	chromiumMu.Lock()
	defer chromiumMu.Unlock()
	if chromiumPath != "" {
		return chromiumPath
	}
	if p := findChromium(); p != "" {
		return checkChromium(t, p)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("testenv: Chromium is missing and the tests do not run as root, so it cannot be installed: " +
			"run `sudo apt-get install -y chromium` (Debian) or set " + EnvChromium + " to a Chromium binary")
	}
	f, err := os.OpenFile(chromiumLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", chromiumLock, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("testenv: lock %s: %v", chromiumLock, err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	// Another test package may have installed it while this one waited for the lock.
	if p := findChromium(); p != "" {
		return checkChromium(t, p)
	}
	t.Logf("testenv: Chromium is missing; installing it with apt-get (this takes a while once)")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("testenv: apt-get %s failed: %v\n%s", strings.Join(args, " "), err, tail(out, 4000))
		}
	}
	p := findChromium()
	if p == "" {
		t.Fatalf("testenv: apt-get installed chromium but no `chromium` binary is on PATH or at /usr/bin/chromium")
	}
	return checkChromium(t, p)
}

// checkChromium runs the binary once so a broken install fails here, with its output, rather than as
// a browser that never connects.
func checkChromium(t testing.TB, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("testenv: %s --version does not work (%v):\n%s", path, err, tail(out, 4000))
	}
	chromiumPath = path
	return path
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// OutputDir returns an empty directory for the artifacts of t (screenshots) that outlives the test:
// $SIGNOFF_TEST_OUTPUT/<test name> when that variable is set, else <temp dir>/signoff-test-output/<test name>.
// It logs the path so a failing run points at what to look at.
func OutputDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvTestOutput)
	if base == "" {
		base = filepath.Join(os.TempDir(), "signoff-test-output")
	}
	dir := filepath.Join(base, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("testenv: clear %s: %v", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testenv: create %s: %v", dir, err)
	}
	t.Logf("test output (screenshots) in %s", dir)
	return dir
}
