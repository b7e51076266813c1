package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRepositoryFollowsTheTable: the module itself passes (what `make lint`
// runs).
func TestRepositoryFollowsTheTable(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	vs, err := check(root, table)
	require.NoError(t, err)
	require.Empty(t, vs)
}

// miniModule is a module with this repository's path and layout, every
// layer importing what the table allows.
var miniModule = map[string]string{
	"go.mod":                      "module github.com/cueapi/cueapi\n\ngo 1.22\n",
	"core/core.go":                "package core\n\nimport \"net/url\"\n\nvar _ = url.Parse\n",
	"core/core_test.go":           "package core_test\n\nimport (\n\t\"testing\"\n\n\t\"github.com/cueapi/cueapi/core\"\n)\n\nfunc TestX(t *testing.T) { _ = core.X }\n",
	"core/x.go":                   "package core\n\nconst X = 1\n",
	"adapters/netguard/guard.go":  "package netguard\n\nimport \"github.com/cueapi/cueapi/core\"\n\nconst X = core.X\n",
	"adapters/webhook/webhook.go": "package webhook\n\nimport (\n\t\"net/http\"\n\n\t\"github.com/cueapi/cueapi/core\"\n)\n\nvar _ = http.Get\n\nconst X = core.X\n",
	"adapters/webhook/webhook_test.go": "package webhook_test\n\nimport (\n\t\"testing\"\n\n\t\"github.com/cueapi/cueapi/adapters/netguard\"\n)\n\n" +
		"func TestX(t *testing.T) { _ = netguard.X }\n",
	"api/api.go":              "package api\n\nimport \"github.com/cueapi/cueapi/core\"\n\nconst X = core.X\n",
	"workerd/workerd.go":      "package workerd\n\nimport \"os\"\n\nvar _ = os.Exit\n",
	"cmd/cueapi/main.go":      "package main\n\nimport (\n\t\"github.com/cueapi/cueapi/adapters/webhook\"\n\t\"github.com/cueapi/cueapi/api\"\n)\n\nfunc main() { _, _ = webhook.X, api.X }\n",
	"internal/tool/main.go":   "package main\n\nfunc main() {}\n",
	"sql/migrations/embed.go": "package migrations\n",
}

func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func imports(pkg string, paths ...string) string {
	var b strings.Builder
	b.WriteString("package " + pkg + "\n\nimport (\n")
	for _, p := range paths {
		b.WriteString("\t_ \"" + p + "\"\n")
	}
	b.WriteString(")\n")
	return b.String()
}

// TestPlantedViolations: each forbidden import planted into a module that
// otherwise passes is reported, naming the file and the rule.
func TestPlantedViolations(t *testing.T) {
	t.Parallel()
	const mod = "github.com/cueapi/cueapi/"

	t.Run("the clean module passes", func(t *testing.T) {
		t.Parallel()
		vs, err := check(writeModule(t, miniModule), table)
		require.NoError(t, err)
		require.Empty(t, vs)
	})

	for _, c := range []struct {
		name, file, body string
		want             string
	}{
		{"core imports net/http", "core/bad.go", imports("core", "net/http"),
			"core/bad.go: core imports net/http: core imports no adapter"},
		{"core imports net/http/httptest", "core/bad.go", imports("core", "net/http/httptest"),
			"core/bad.go: core imports net/http/httptest: core imports no adapter"},
		{"core imports database/sql", "core/bad.go", imports("core", "database/sql"),
			"core/bad.go: core imports database/sql: core imports no adapter"},
		{"core imports an adapter", "core/bad.go", imports("core", mod+"adapters/netguard"),
			"core/bad.go: core imports adapters/netguard: core imports no adapter"},
		{"core imports api", "core/bad.go", imports("core", mod+"api"),
			"core/bad.go: core imports api: core imports no adapter"},
		{"core imports a driver", "core/bad.go", imports("core", "github.com/jackc/pgx/v5"),
			"core/bad.go: core imports github.com/jackc/pgx/v5: core imports no adapter"},
		{"a core test imports an adapter", "core/bad_test.go", imports("core_test", mod+"adapters/netguard"),
			"core/bad_test.go: core imports in a test adapters/netguard: core imports no adapter"},
		{"an adapter imports another adapter", "adapters/webhook/bad.go", imports("webhook", mod+"adapters/netguard"),
			"adapters/webhook/bad.go: adapters/webhook imports adapters/netguard: an adapter imports core and its own technology only"},
		{"an adapter imports another technology", "adapters/webhook/bad.go", imports("webhook", "github.com/redis/go-redis/v9"),
			"adapters/webhook/bad.go: adapters/webhook imports github.com/redis/go-redis/v9: an adapter imports core"},
		{"an adapter imports api", "adapters/netguard/bad.go", imports("netguard", mod+"api"),
			"adapters/netguard/bad.go: adapters/netguard imports api: an adapter imports core"},
		{"api imports an adapter", "api/bad.go", imports("api", mod+"adapters/netguard"),
			"api/bad.go: api imports adapters/netguard: api imports core, its generated code"},
		{"api imports a driver", "api/bad.go", imports("api", "modernc.org/sqlite"),
			"api/bad.go: api imports modernc.org/sqlite: api imports core, its generated code"},
		{"the worker daemon imports core", "workerd/bad.go", imports("workerd", mod+"core"),
			"workerd/bad.go: workerd imports core: the worker daemon is an API client"},
		{"a package outside the table", "newlayer/x.go", imports("newlayer", "fmt"),
			"newlayer: package newlayer is not in the import table"},
		{"an adapter outside the table", "adapters/kafka/x.go", imports("kafka", mod+"core"),
			"adapters/kafka: package adapters/kafka is not in the import table"},
		{"a file built outside unix only", "workerd/other.go", "//go:build !unix\n\n" + imports("workerd", mod+"adapters/netguard"),
			"workerd/other.go: workerd imports adapters/netguard: the worker daemon is an API client"},
		{"a file built on unix only", "workerd/unix.go", "//go:build unix\n\n" + imports("workerd", mod+"core"),
			"workerd/unix.go: workerd imports core: the worker daemon is an API client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{c.file: c.body}
			for k, v := range miniModule {
				files[k] = v
			}
			vs, err := check(writeModule(t, files), table)
			require.NoError(t, err)
			require.Len(t, vs, 1, "%v", vs)
			require.True(t, strings.HasPrefix(vs[0].String(), c.want), "got %q", vs[0].String())
		})
	}
}

// TestPlantedTransitiveViolation: a refused standard package reached
// through another package is reported for every package that reaches it.
func TestPlantedTransitiveViolation(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"core/sub/sub.go": imports("sub", "net/http"),
		"core/uses.go":    imports("core", "github.com/cueapi/cueapi/core/sub"),
	}
	for k, v := range miniModule {
		files[k] = v
	}
	vs, err := check(writeModule(t, files), table)
	require.NoError(t, err)
	require.Len(t, vs, 2, "%v", vs)
	require.True(t, strings.HasPrefix(vs[0].String(), "core: core depends on (transitively) net/http, "), vs[0].String())
	require.True(t, strings.HasPrefix(vs[1].String(), "core/sub/sub.go: core/sub imports net/http: "), vs[1].String())
}

// TestTableMarkdown: -table prints one line per row.
func TestTableMarkdown(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeTable(&b, table)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, len(table)+2)
	require.Contains(t, b.String(), "| `core/...` | standard library, `core/...`, `github.com/adhocore/gronx` | `net/http/...`, `database/sql/...` |")
}

// TestArchitectureDocShowsTheTable: docs/architecture.md carries the table
// as enforced (regenerate it with `go run ./internal/importcheck -table`).
func TestArchitectureDocShowsTheTable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/architecture.md")
	require.NoError(t, err)
	var b bytes.Buffer
	writeTable(&b, table)
	require.Contains(t, string(doc), b.String(), "docs/architecture.md is out of date: paste `go run ./internal/importcheck -table` into its Import table section")
}
