// Package docker_test checks docker/compose.yaml, which cannot run here (no Docker engine): its
// services, images, healthchecks, dependencies, ports and variables, against the Makefile's pinned
// releases, the README's table of variables and the topology of `make cluster` (R-OPS-3).
package docker_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// composeFile is the part of the compose specification the checks read.
type composeFile struct {
	Name     string             `yaml:"name"`
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string               `yaml:"image"`
	Build       *build               `yaml:"build"`
	Command     []string             `yaml:"command"`
	Entrypoint  []string             `yaml:"entrypoint"`
	Environment map[string]string    `yaml:"environment"`
	Ports       []string             `yaml:"ports"`
	Volumes     []string             `yaml:"volumes"`
	Restart     string               `yaml:"restart"`
	Healthcheck *healthcheck         `yaml:"healthcheck"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type healthcheck struct {
	Test    []string `yaml:"test"`
	Disable bool     `yaml:"disable"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

// oneShot are the steps that run to completion before the long-running services start: what depends
// on them waits for service_completed_successfully.
var oneShot = map[string]bool{"temporal-schema": true, "temporal-setup": true, "migrate": true}

// The topology of `make cluster` (cmd/signoff/cluster.go): the same services, two API and two
// worker processes.
var wantServices = []string{"api-1", "api-2", "migrate", "postgres", "temporal", "temporal-schema", "temporal-setup",
	"temporal-ui", "worker-1", "worker-2"}

func loadCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c), "compose.yaml must parse (anchors and merge keys resolved)")
	return c, string(raw)
}

// makeVar is the value of a `NAME := value` line of the Makefile.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(\S+)`).FindStringSubmatch(string(raw))
	require.NotNil(t, m, "Makefile sets %s", name)
	return m[1]
}

func TestComposeServicesAndImages(t *testing.T) {
	c, _ := loadCompose(t)
	require.Equal(t, "signoff", c.Name)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, wantServices, names, "the same topology as make cluster")

	server := strings.TrimPrefix(makeVar(t, "TEMPORAL_SERVER_VERSION"), "v")
	ui := strings.TrimPrefix(makeVar(t, "TEMPORAL_UI_VERSION"), "v")
	pinned := map[string]string{ // official image → the tag it must carry (prefix for admin-tools)
		"temporalio/server":      server,
		"temporalio/admin-tools": server + "-",
		"temporalio/ui":          ui,
		"postgres":               "",
	}
	seen := map[string]bool{}
	commands := map[string]int{}
	for name, s := range c.Services {
		if s.Build != nil {
			assert.Equal(t, "..", s.Build.Context, "%s builds from the repository root", name)
			_, err := os.Stat("../" + s.Build.Dockerfile)
			assert.NoError(t, err, "%s: its Dockerfile", name)
			require.NotEmpty(t, s.Command, "%s: a signoff subcommand", name)
			commands[s.Command[0]]++
			continue
		}
		repo, tag, ok := strings.Cut(s.Image, ":")
		require.True(t, ok, "%s: image %q has a pinned tag", name, s.Image)
		want, official := pinned[repo]
		require.True(t, official, "%s: image %q is not one of the official images %v", name, s.Image, pinned)
		assert.NotEqual(t, "latest", tag, "%s", name)
		assert.Regexp(t, `^\d+\.\d+(\.\d+)?`, tag, "%s: a version tag", name)
		if want != "" {
			assert.True(t, strings.HasPrefix(tag, want), "%s: tag %s, the Makefile pins %s", name, tag, want)
		}
		if repo == "temporalio/ui" || repo == "temporalio/server" {
			assert.Equal(t, want, tag, "%s: the release make cluster builds", name)
		}
		seen[repo] = true
	}
	assert.Len(t, seen, len(pinned), "every official image is used: %v", seen)
	assert.Equal(t, map[string]int{"api": 2, "worker": 2, "migrate": 1}, commands, "signoff processes, as make cluster runs them")
}

func TestComposeHealthchecksAndDependencies(t *testing.T) {
	c, _ := loadCompose(t)
	for name, s := range c.Services {
		require.NotNil(t, s.Healthcheck, "%s has no healthcheck", name)
		assert.False(t, s.Healthcheck.Disable, "%s: healthcheck disabled", name)
		require.GreaterOrEqual(t, len(s.Healthcheck.Test), 2, "%s: healthcheck test", name)
		assert.Equal(t, "CMD", s.Healthcheck.Test[0], "%s: exec-form healthcheck", name)
		if name != "postgres" {
			assert.NotEmpty(t, s.DependsOn, "%s starts after something", name)
		}
		for dep, d := range s.DependsOn {
			require.Contains(t, c.Services, dep, "%s depends on an unknown service", name)
			want := "service_healthy"
			if oneShot[dep] {
				want = "service_completed_successfully"
			}
			assert.Equal(t, want, d.Condition, "%s → %s", name, dep)
		}
	}
	// No cycle: every service can be ordered after what it depends on.
	done := map[string]bool{}
	for len(done) < len(c.Services) {
		progress := false
		for name, s := range c.Services {
			ready := !done[name]
			for dep := range s.DependsOn {
				ready = ready && done[dep]
			}
			if ready {
				done[name], progress = true, true
			}
		}
		require.True(t, progress, "depends_on has a cycle")
	}
	// The healthchecks of the signoff services are subcommands of the image's binary (it has no shell).
	for _, name := range []string{"api-1", "api-2", "worker-1", "worker-2"} {
		kind := strings.TrimSuffix(strings.TrimSuffix(name, "-1"), "-2")
		assert.Equal(t, []string{"CMD", "/signoff", "healthcheck", kind}, c.Services[name].Healthcheck.Test, name)
		for _, dep := range []string{"migrate", "temporal-setup", "temporal", "postgres"} {
			assert.Contains(t, c.Services[name].DependsOn, dep, "%s waits for %s", name, dep)
		}
	}
}

func TestComposePortsAndProcesses(t *testing.T) {
	c, _ := loadCompose(t)
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s publishes %q beyond 127.0.0.1", name, p)
			host := strings.Split(p, ":")[1]
			require.NotContains(t, hostPorts, host, "%s and %s both publish host port %s", name, hostPorts[host], host)
			hostPorts[host] = name
		}
	}
	for _, name := range []string{"api-1", "api-2", "worker-1", "worker-2", "migrate"} {
		env := c.Services[name].Environment
		for _, v := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "SIGNOFF_SECRET_KEY", "SIGNOFF_BOOTSTRAP_TOKEN"} {
			assert.NotEmpty(t, env[v], "%s sets %s", name, v)
		}
		assert.Equal(t, "temporal:7233", env["TEMPORAL_ADDRESS"], name)
		if name != "migrate" {
			assert.NotEmpty(t, env["SIGNOFF_METRICS_ADDR"], "%s: a metrics address of its own (R-OPS-1)", name)
		}
	}
	for _, name := range []string{"api-1", "api-2"} {
		assert.Equal(t, "0.0.0.0:8080", c.Services[name].Environment["SIGNOFF_HTTP_ADDR"], name)
	}
}

// readmeVariables is the README's table of the compose file's variables: name → required.
func readmeVariables(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "### Docker")
	require.GreaterOrEqual(t, start, 0, "README has a section \"### Docker\"")
	section := text[start+len("### Docker"):]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| (yes|no) \\|").FindAllStringSubmatch(section, -1) {
		out[m[1]] = m[2] == "yes"
	}
	require.NotEmpty(t, out, "README's Docker section has a table | `NAME` | yes/no | … |")
	return out
}

func TestComposeVariablesMatchTheReadme(t *testing.T) {
	_, raw := loadCompose(t)
	used := map[string]bool{} // name → required (${NAME:?…})
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)(:?[-?])?`).FindAllStringSubmatchIndex(raw, -1) {
		if m[0] > 0 && raw[m[0]-1] == '$' {
			continue // $${…} is the shell's, not compose's
		}
		name := raw[m[2]:m[3]]
		required := m[4] >= 0 && strings.HasSuffix(raw[m[4]:m[5]], "?")
		used[name] = used[name] || required
	}
	require.NotEmpty(t, used)
	documented := readmeVariables(t)
	assert.Equal(t, used, documented, "the compose file's variables (and whether each is required) are the README's table")

	example, err := os.ReadFile("env.example")
	require.NoError(t, err)
	for name := range used {
		assert.Regexp(t, "(?m)^"+name+"=", string(example), "docker/env.example lists %s", name)
	}
	for _, secret := range []string{"POSTGRES_PASSWORD", "SIGNOFF_SECRET_KEY", "SIGNOFF_BOOTSTRAP_TOKEN"} {
		assert.True(t, used[secret], "%s comes from the env file and is required", secret)
		assert.NotRegexp(t, "(?m)^"+secret+"=.+", string(example), "env.example holds no value for %s", secret)
	}
	gitignore, err := os.ReadFile("../.gitignore")
	require.NoError(t, err)
	assert.Contains(t, string(gitignore), "/docker/.env", "the env file is never committed")
}

func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err, "the build context (the repository root) has a .dockerignore")
	lines := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		lines[strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "/"), "/")] = true
	}
	for _, p := range []string{".data", "bin", "out", "docker/.env", ".git"} {
		assert.True(t, lines[p], ".dockerignore leaves out %s", p)
	}
}
