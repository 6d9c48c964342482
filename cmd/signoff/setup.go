package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/temporalclient"
	"github.com/signoff/signoff/workflows"
)

// runSetup is `signoff setup` (R-OPS-2): through the same client path as the worker and the API, it
// registers the namespace when missing and the search attributes of SPEC §7, then prints what it
// changed. A second run changes nothing.
func runSetup(ctx context.Context, cfg config.Config, out io.Writer, log *zap.Logger) error {
	c, err := temporalclient.Dial(ctx, cfg, log, temporalclient.Extras{}, time.Minute)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := temporalclient.Setup(ctx, c, cfg.TemporalNamespace, cfg.NamespaceRetention, workflows.SearchAttributes())
	if err != nil {
		return err
	}
	if res.NamespaceRegistered {
		fmt.Fprintf(out, "namespace %s: registered (retention %s)\n", cfg.TemporalNamespace, cfg.NamespaceRetention)
	} else {
		fmt.Fprintf(out, "namespace %s: already there\n", cfg.TemporalNamespace)
	}
	added := map[string]bool{}
	for _, a := range res.AttributesAdded {
		added[a] = true
	}
	for _, a := range workflows.SearchAttributes() {
		state := "already there"
		if added[a] {
			state = "added"
		}
		fmt.Fprintf(out, "search attribute %s (Keyword): %s\n", a, state)
	}
	fmt.Fprintf(out, "Temporal at %s is ready for Signoff.\n", cfg.TemporalAddress)
	return nil
}

// setupTemporal is what `signoff dev` does of `signoff setup` on the client it already holds.
func setupTemporal(ctx context.Context, cfg config.Config, c client.Client, log *zap.Logger) error {
	res, err := temporalclient.Setup(ctx, c, cfg.TemporalNamespace, cfg.NamespaceRetention, workflows.SearchAttributes())
	if err != nil {
		return err
	}
	if res.NamespaceRegistered || len(res.AttributesAdded) > 0 {
		log.Info("temporal set up", zap.String("namespace", cfg.TemporalNamespace),
			zap.Bool("namespace_registered", res.NamespaceRegistered), zap.Strings("search_attributes_added", res.AttributesAdded))
	}
	return nil
}

// buildRevision is the VCS revision `make build` stamps with -ldflags "-X main.buildRevision=…"
// (with "+dirty" when the tree had uncommitted changes). Go's own stamping, read by
// debug.ReadBuildInfo, finds no repository in a git worktree (golang/go#58218) and in a tree copied
// without .git, and takes an enclosing repository's revision when the worktree sits inside one; so
// the stamped revision wins when present.
var buildRevision string

// runVersion is `signoff version` (R-OPS-2): the build of this binary.
func runVersion(out io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprint(out, versionText(bi, buildRevision))
}

// versionText describes a build: the main module's version, the VCS revision (ldRevision when set,
// else Go's vcs.revision) and its commit time, and the Go toolchain and platform.
func versionText(bi *debug.BuildInfo, ldRevision string) string {
	version, revision, commitTime, modified := "(unknown)", "", "", false
	goVersion := runtime.Version()
	if bi != nil {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				commitTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if ldRevision != "" {
		revision, commitTime, modified = ldRevision, "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "signoff %s\n", version)
	switch {
	case revision == "":
		b.WriteString("revision unknown (not built from a git checkout; `make build` stamps it)\n")
	case modified:
		fmt.Fprintf(&b, "revision %s+dirty\n", revision)
	default:
		fmt.Fprintf(&b, "revision %s\n", revision)
	}
	if commitTime != "" {
		fmt.Fprintf(&b, "commit time %s\n", commitTime)
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
