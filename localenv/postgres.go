// Package localenv starts the local runtime that `signoff dev` and `make test` need when no external
// services are given: a throwaway Postgres cluster and the Temporal CLI dev server.
package localenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// Postgres is a cluster started from the machine's server binaries, listening only on a Unix socket.
type Postgres struct {
	// URL connects to the "signoff" database (or the one named in PostgresOptions).
	URL     string
	binDir  string
	home    string
	dataDir string
	logFile string
	asUser  string
}

// PostgresOptions configure StartPostgres.
type PostgresOptions struct {
	// Dir holds the cluster (Dir/pgdata), its socket (Dir/run) and its log (Dir/postgres.log). As root,
	// when the postgres user cannot reach Dir, they live in a folder of that user instead (see Home).
	Dir string
	// Database is created when missing; default "signoff".
	Database string
	// Durable keeps fsync on; tests turn it off for speed.
	Durable bool
	// Settings are extra server settings, "name=value", for experiments such as
	// "shared_preload_libraries=pg_stat_statements".
	Settings []string
}

// StartPostgres initialises the cluster when Dir has none, starts it and creates the database.
// Running as root, it installs Debian's postgresql package when no server binaries are found and
// runs the server as the postgres user, which Postgres requires; when that user cannot reach Dir
// (a clone under /root or any other 0700 folder), the cluster lives in the postgres user's home
// instead, linked from Dir/cluster.
func StartPostgres(ctx context.Context, opts PostgresOptions, log *zap.Logger) (*Postgres, error) {
	if opts.Database == "" {
		opts.Database = "signoff"
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	binDir, err := postgresBinDir(ctx, log)
	if err != nil {
		return nil, err
	}
	p := &Postgres{binDir: binDir}
	if os.Geteuid() == 0 {
		p.asUser = "postgres"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localenv: %w", err)
	}
	home, err := p.clusterHome(ctx, dir, log)
	if err != nil {
		return nil, err
	}
	p.home, p.dataDir, p.logFile = home, filepath.Join(home, "pgdata"), filepath.Join(home, "postgres.log")
	sock := filepath.Join(home, "run")
	for _, d := range []string{home, sock} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("localenv: %w", err)
		}
		if err := p.chown(d); err != nil {
			return nil, err
		}
	}
	if !p.canWrite(ctx, sock) {
		return nil, fmt.Errorf("localenv: the postgres user cannot write %s (is a parent directory private?)", sock)
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("initialising postgres cluster", zap.String("dir", p.dataDir))
		if err := p.run(ctx, "initdb", "-D", p.dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
			return nil, err
		}
	}
	serverOpts := fmt.Sprintf("-c listen_addresses='' -k %s -c max_connections=200", sock)
	if !opts.Durable {
		serverOpts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	for _, kv := range opts.Settings {
		serverOpts += " -c " + kv
	}
	// A cluster left running by a previous run that crashed is reused as it is.
	if p.run(ctx, "pg_ctl", "status", "-D", p.dataDir) == nil {
		log.Info("reusing running postgres cluster", zap.String("dir", p.dataDir))
	} else if err := p.run(ctx, "pg_ctl", "start", "-D", p.dataDir, "-w", "-t", "60", "-l", p.logFile, "-o", serverOpts); err != nil {
		return nil, err
	}
	admin := fmt.Sprintf("postgres://postgres@/postgres?host=%s&sslmode=disable", url.QueryEscape(sock))
	p.URL = fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", opts.Database, url.QueryEscape(sock))
	if err := createDatabase(ctx, admin, opts.Database); err != nil {
		p.Stop(context.Background())
		return nil, err
	}
	return p, nil
}

// Home is the folder that holds the cluster's data, socket and log: the options' Dir, or the folder
// Dir/cluster links to when the postgres user could not reach Dir.
func (p *Postgres) Home() string { return p.home }

// clusterLink is the link, in PostgresOptions.Dir, to a cluster kept in the postgres user's home.
const clusterLink = "cluster"

// clusterHome chooses where the cluster of dir lives. Without root, or when the postgres user can
// write dir, that is dir. Otherwise the postgres user could not even open a socket under a private
// parent (/root is 0700), so the cluster lives in ~postgres/signoff/<hash of dir> and dir/cluster
// links to it: later starts follow the link and reuse the data. A folder of that name without the
// link is what a removed data directory (make clean) left behind, and starts afresh.
func (p *Postgres) clusterHome(ctx context.Context, dir string, log *zap.Logger) (string, error) {
	if p.asUser == "" {
		return dir, nil
	}
	link := filepath.Join(dir, clusterLink)
	if target, err := os.Readlink(link); err == nil {
		return target, nil
	}
	if err := p.chown(dir); err != nil {
		return "", err
	}
	if p.canWrite(ctx, dir) {
		return dir, nil
	}
	u, err := user.Lookup(p.asUser)
	if err != nil {
		return "", fmt.Errorf("localenv: user %s: %w", p.asUser, err)
	}
	base := filepath.Join(u.HomeDir, "signoff")
	sum := sha256.Sum256([]byte(dir))
	home := filepath.Join(base, hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(home); err == nil {
		log.Info("removing the postgres cluster of a deleted data directory", zap.String("dir", home))
		_ = p.run(ctx, "pg_ctl", "stop", "-D", filepath.Join(home, "pgdata"), "-m", "immediate", "-w", "-t", "60")
		if err := os.RemoveAll(home); err != nil {
			return "", fmt.Errorf("localenv: %w", err)
		}
	}
	for _, d := range []string{base, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("localenv: %w", err)
		}
		if err := p.chown(d); err != nil {
			return "", err
		}
	}
	if err := os.Symlink(home, link); err != nil {
		return "", fmt.Errorf("localenv: %w", err)
	}
	log.Info("the postgres user cannot reach the data directory; the cluster lives in its home",
		zap.String("data_dir", dir), zap.String("cluster", home), zap.String("link", link))
	return home, nil
}

// canWrite reports whether the user the server runs as may create files in dir.
func (p *Postgres) canWrite(ctx context.Context, dir string) bool {
	if p.asUser == "" {
		return true
	}
	return exec.CommandContext(ctx, "runuser", "-u", p.asUser, "--", "test", "-w", dir).Run() == nil
}

// Stop shuts the cluster down (fast mode: open sessions are ended, committed data is kept).
func (p *Postgres) Stop(ctx context.Context) error {
	return p.run(ctx, "pg_ctl", "stop", "-D", p.dataDir, "-m", "fast", "-w", "-t", "60")
}

// Restart stops and starts the cluster with the options of its last start. The server's output
// goes to its log file (pg_ctl does not remember -l), never to this process.
func (p *Postgres) Restart(ctx context.Context) error {
	return p.run(ctx, "pg_ctl", "restart", "-D", p.dataDir, "-m", "fast", "-w", "-t", "60", "-l", p.logFile)
}

func (p *Postgres) run(ctx context.Context, tool string, args ...string) error {
	bin := filepath.Join(p.binDir, tool)
	var cmd *exec.Cmd
	if p.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.asUser, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = os.TempDir()
	// A server started by pg_ctl may inherit the output pipe; do not wait on it past the command.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("localenv: %s %s: %w\n%s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

func (p *Postgres) chown(path string) error {
	if p.asUser == "" {
		return nil
	}
	u, err := user.Lookup(p.asUser)
	if err != nil {
		return fmt.Errorf("localenv: user %s: %w", p.asUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("localenv: %w", err)
	}
	return nil
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("localenv: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("localenv: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("localenv: create database %s: %w", name, err)
	}
	return nil
}

// postgresBinDir finds the newest server binaries of version 15 or later, installing them when missing.
func postgresBinDir(ctx context.Context, log *zap.Logger) (string, error) {
	if dir := os.Getenv("SIGNOFF_PG_BIN"); dir != "" {
		return dir, nil
	}
	find := func() string {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		type cand struct {
			v   int
			dir string
		}
		var cs []cand
		for _, m := range matches {
			dir := filepath.Dir(m)
			v, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
			if err == nil && v >= 15 {
				cs = append(cs, cand{v, dir})
			}
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
		if len(cs) == 0 {
			return ""
		}
		return cs[0].dir
	}
	if dir := find(); dir != "" {
		return dir, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("localenv: no PostgreSQL 15+ server binaries under /usr/lib/postgresql; run `sudo apt-get install postgresql` or set DATABASE_URL")
	}
	log.Info("installing Debian's postgresql package (no server binaries found)")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cmd := exec.CommandContext(cctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return "", fmt.Errorf("localenv: apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if dir := find(); dir != "" {
		return dir, nil
	}
	return "", errors.New("localenv: postgresql installed but no server binaries found under /usr/lib/postgresql")
}
