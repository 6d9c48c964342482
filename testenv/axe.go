package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AxeCoreVersion is the axe-core release the browser tests run in the review page.
const AxeCoreVersion = "4.14.1"

// EnvAxeCache is the folder axe-core is installed into with npm (default <user cache>/signoff-axe-core).
const EnvAxeCache = "SIGNOFF_AXE_CACHE"

// axeLock serialises the npm install between test processes.
const axeLock = "/tmp/signoff-axe-core.lock"

var (
	axeMu     sync.Mutex
	axeScript string
)

// axeDir returns the folder axe-core AxeCoreVersion is installed into.
func axeDir() string {
	if d := os.Getenv(EnvAxeCache); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "signoff-axe-core", AxeCoreVersion)
}

// AxeCore returns the source of axe.min.js of axe-core AxeCoreVersion, installing the package from the
// npm registry with `npm install` into a cache folder on first use (once, under a file lock shared by
// parallel test processes). Without npm the test fails loudly: accessibility tests never skip.
func AxeCore(t testing.TB) string {
	t.Helper()
	axeMu.Lock()
	defer axeMu.Unlock()
	if axeScript != "" {
		return axeScript
	}
	dir := axeDir()
	file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		axeScript = string(b)
		return axeScript
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("testenv: axe-core is not installed in %s and npm is not on PATH to install it: "+
			"install Node.js and npm (Debian: `apt-get install -y npm`)", dir)
	}
	f, err := os.OpenFile(axeLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: open %s: %v", axeLock, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("testenv: lock %s: %v", axeLock, err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	// Another process may have installed it while this one waited for the lock.
	if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
		axeScript = string(b)
		return axeScript
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testenv: create %s: %v", dir, err)
	}
	t.Logf("testenv: installing axe-core@%s with npm into %s", AxeCoreVersion, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--save-exact",
		"axe-core@"+AxeCoreVersion)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: npm install axe-core@%s failed: %v\n%s", AxeCoreVersion, err, tail(out, 4000))
	}
	b, err := os.ReadFile(file)
	if err != nil || len(b) == 0 {
		t.Fatalf("testenv: npm installed axe-core but %s is missing or empty: %v", file, err)
	}
	axeScript = string(b)
	return axeScript
}
