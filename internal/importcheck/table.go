package main

import "slices"

// The import table: who may import whom. docs/architecture.md ("Import
// table") shows it; `go run ./internal/importcheck -table` prints it.
//
// Patterns: "std" is the standard library; a path whose first element has
// no dot is a package of this module, relative to its root ("core/..." is
// core and everything under it); any other path is a third-party package
// ("github.com/jackc/pgx/v5/..." is that module's packages). The first row
// whose Packages pattern matches a package is the one that applies, so the
// more specific rows come first. A package that no row matches is a
// violation: a new top-level directory or adapter must be added here.

// row is one line of the table.
type row struct {
	// Packages are the packages this row is about.
	Packages string
	// Allow are what their non-test files may import.
	Allow []string
	// Deny are standard-library packages refused even though Allow has
	// "std"; they are also refused anywhere in the package's transitive
	// dependencies (a third-party library must not bring them in).
	Deny []string
	// TestAllow are what their _test.go files may import on top of Allow.
	TestAllow []string
	// Why is the rule in words, printed with a violation.
	Why string
}

// testLibs are the testing libraries every test may import.
var testLibs = []string{"github.com/stretchr/testify/...", "go.uber.org/goleak"}

// integrationTests may import for tests outside core: the contract suites,
// other adapters and the store helpers, so a test runs on real
// neighbours.
var integrationTests = append([]string{"coretest", "adapters/..."}, testLibs...)

// adapter is the row of one adapter: core, its own subtree and its
// technology (for the SQL adapters: the migrations and the SQL plumbing of
// sql/sqlkit).
func adapter(name string, technology ...string) row {
	allow := append([]string{"std", "core/...", "adapters/" + name + "/..."}, technology...)
	return row{
		Packages:  "adapters/" + name + "/...",
		Allow:     allow,
		TestAllow: integrationTests,
		Why:       "an adapter imports core and its own technology only, never another adapter, api or cmd",
	}
}

// alsoInTests lets r's tests import more (the client of a neighbour they run
// on).
func alsoInTests(r row, more ...string) row {
	r.TestAllow = append(slices.Clone(r.TestAllow), more...)
	return r
}

var table = []row{
	{
		Packages:  "core/...",
		Allow:     []string{"std", "core/...", "github.com/adhocore/gronx"},
		Deny:      []string{"net/http/...", "database/sql/..."},
		TestAllow: append([]string{"coretest"}, testLibs...),
		Why:       "core imports no adapter, no api, no driver and no net/http: only the standard library, itself and the cron parser",
	},
	{
		Packages:  "coretest",
		Allow:     append([]string{"std", "core/..."}, testLibs...),
		TestAllow: testLibs,
		Why:       "the contract suites import core and testing libraries only, so every adapter can run them",
	},
	adapter("authcache", "github.com/redis/go-redis/v9/..."),
	alsoInTests(adapter("failoverlimiter"), "github.com/redis/go-redis/v9/..."), // runs over a real Redis limiter
	adapter("fernet"),
	adapter("memlimiter"),
	adapter("netguard", "golang.org/x/net/idna"),
	adapter("postgres", "sql/migrations", "sql/sqlkit", "github.com/jackc/pgx/v5/..."),
	adapter("redislimiter", "github.com/redis/go-redis/v9/..."),
	adapter("sqlite", "sql/migrations", "sql/sqlkit", "modernc.org/sqlite/..."),
	adapter("webhook"),
	adapter("smtp", "github.com/emersion/go-smtp/...", "github.com/emersion/go-sasl/..."),
	adapter("prom", "github.com/prometheus/..."),
	adapter("otel", "go.opentelemetry.io/...", "google.golang.org/protobuf/...", "github.com/jackc/pgx/v5"),
	{
		Packages:  "api/...",
		Allow:     []string{"std", "core/...", "api/...", "github.com/getkin/kin-openapi/...", "github.com/oapi-codegen/runtime/..."},
		TestAllow: integrationTests,
		Why:       "api imports core, its generated code, and its HTTP libraries (kin-openapi, the oapi-codegen runtime) only",
	},
	{
		Packages:  "workerd/...",
		Allow:     []string{"std", "workerd/...", "api/apiclient", "gopkg.in/yaml.v3"},
		TestAllow: testLibs,
		Why:       "the worker daemon is an API client: it imports the generated client and its config-file parser only, never core, the server or an adapter",
	},
	{
		Packages:  "sql/sqlkit",
		Allow:     []string{"std", "core/...", "sql/migrations"},
		Deny:      []string{"database/sql/..."},
		TestAllow: append([]string{"coretest"}, testLibs...),
		Why:       "the SQL plumbing both SQL adapters share is technology-neutral: core, the migrations and the standard library (no driver, no database/sql)",
	},
	{
		Packages: "sql/...",
		Allow:    []string{"std", "sql/..."},
		Why:      "the migration files import the standard library only",
	},
	{
		Packages:  "internal/...",
		Allow:     []string{"std", "internal/..."},
		TestAllow: testLibs,
		Why:       "repository tooling imports the standard library only",
	},
	{
		Packages: "cmd/...",
		Allow:    []string{"*"},
		Why:      "cmd is the composition root: it may import everything, and nothing imports it",
	},
}
