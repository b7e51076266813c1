// Command importcheck enforces the import table of table.go over the
// module in the current directory (`make lint` runs it):
//
//	go run ./internal/importcheck          check ./..., exit 1 on a violation
//	go run ./internal/importcheck -table   print the table as Markdown
//
// It reads the packages with `go list -e -json` (for the host and for
// windows, so files behind unix/!unix build constraints are both seen), so
// it sees exactly the imports the compiler sees, test files included, and
// it names the file of every forbidden import.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	printTable := flag.Bool("table", false, "print the import table as Markdown and exit")
	flag.Parse()
	if *printTable {
		writeTable(os.Stdout, table)
		return
	}
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "importcheck:", err)
		os.Exit(2)
	}
	vs, err := check(dir, table)
	if err != nil {
		fmt.Fprintln(os.Stderr, "importcheck:", err)
		os.Exit(2)
	}
	for _, v := range vs {
		fmt.Fprintln(os.Stderr, v)
	}
	if len(vs) > 0 {
		fmt.Fprintf(os.Stderr, "importcheck: %d import(s) break the import table (internal/importcheck/table.go, docs/architecture.md)\n", len(vs))
		os.Exit(1)
	}
}

// pkg is what `go list -json` says about a package.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
	Module       *struct{ Path string }
}

// violation is one forbidden import.
type violation struct {
	File    string // relative to the module root; the package directory when unknown
	Package string // relative to the module root
	Import  string // as written, module packages relative to the root
	Test    bool
	Deep    bool // found in the transitive dependencies, not in a file
	Rule    *row
}

func (v violation) String() string {
	what := "imports"
	switch {
	case v.Deep:
		what = "depends on (transitively)"
	case v.Test:
		what = "imports in a test"
	}
	if v.Rule == nil {
		return fmt.Sprintf("%s: package %s is not in the import table: add a row for it", v.File, v.Package)
	}
	return fmt.Sprintf("%s: %s %s %s: %s (row %s allows %s)", v.File, v.Package, what, v.Import, v.Rule.Why,
		v.Rule.Packages, strings.Join(v.allowed(), ", "))
}

func (v violation) allowed() []string {
	if v.Test {
		return append(slices.Clone(v.Rule.Allow), v.Rule.TestAllow...)
	}
	return v.Rule.Allow
}

// platforms are the GOOS values the packages are listed for: the host, and
// windows for the files built only outside unix (such as workerd's
// run_other.go).
var platforms = []string{"", "windows"}

// check lists the packages of the module in dir and returns every import
// the table forbids, in package order, once per distinct violation.
func check(dir string, rows []row) ([]violation, error) {
	var out []violation
	seen := map[string]bool{}
	for _, goos := range platforms {
		pkgs, err := list(dir, goos)
		if err != nil {
			return nil, err
		}
		for _, v := range checkPackages(dir, rows, pkgs) {
			if !seen[v.String()] {
				seen[v.String()] = true
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// checkPackages applies the table to listed packages.
func checkPackages(dir string, rows []row, pkgs []pkg) []violation {
	var out []violation
	for _, p := range pkgs {
		if p.Module == nil {
			continue
		}
		mod := p.Module.Path
		rel := relative(mod, p.ImportPath)
		relDir, _ := filepath.Rel(dir, p.Dir)
		r := match(rows, rel)
		if r == nil {
			out = append(out, violation{File: filepath.ToSlash(relDir), Package: rel})
			continue
		}
		bad := func(imp string, test bool) {
			files := filesImporting(p, imp, test)
			if len(files) == 0 {
				files = []string{p.Dir}
			}
			for _, f := range files {
				rf, _ := filepath.Rel(dir, f)
				out = append(out, violation{File: filepath.ToSlash(rf), Package: rel, Import: relative(mod, imp), Test: test, Rule: r})
			}
		}
		for _, imp := range p.Imports {
			if !allowed(r.Allow, r.Deny, mod, imp) {
				bad(imp, false)
			}
		}
		testAllow := append(slices.Clone(r.Allow), r.TestAllow...)
		for _, imp := range dedupe(p.TestImports, p.XTestImports) {
			if imp == p.ImportPath || slices.Contains(p.Imports, imp) {
				continue // the package itself (external tests), or reported above
			}
			if !allowed(testAllow, r.Deny, mod, imp) {
				bad(imp, true)
			}
		}
		// A refused package reached through an allowed import (a library
		// that brings in net/http): one violation naming what was reached,
		// unless a direct import already explains it.
		var deep []string
		direct := false
		for _, dep := range p.Deps {
			if isStd(mod, dep) && matchAny(r.Deny, dep) {
				deep = append(deep, dep)
				direct = direct || slices.Contains(p.Imports, dep)
			}
		}
		if len(deep) > 0 && !direct {
			out = append(out, violation{File: filepath.ToSlash(relDir), Package: rel, Import: strings.Join(deep, ", "), Deep: true, Rule: r})
		}
	}
	return out
}

// list runs `go list -e -json ./...` in dir, for goos ("" = the host).
func list(dir, goos string) ([]pkg, error) {
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = dir
	if goos != "" {
		cmd.Env = append(os.Environ(), "GOOS="+goos)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// relative turns a package of module mod into its path from the root
// ("." for the root); other paths are returned unchanged.
func relative(mod, path string) string {
	if path == mod {
		return "."
	}
	if rest, ok := strings.CutPrefix(path, mod+"/"); ok {
		return rest
	}
	return path
}

// isStd: the first element of a standard-library path has no dot.
func isStd(mod, path string) bool {
	if path == mod || strings.HasPrefix(path, mod+"/") {
		return false
	}
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// match returns the first row for the package at rel, or nil.
func match(rows []row, rel string) *row {
	for i := range rows {
		if matchPattern(rows[i].Packages, rel) {
			return &rows[i]
		}
	}
	return nil
}

// allowed reports whether a package may import imp under allow and deny.
func allowed(allow, deny []string, mod, imp string) bool {
	if imp == "C" || imp == "unsafe" {
		return slices.Contains(allow, "*")
	}
	if isStd(mod, imp) {
		if slices.Contains(allow, "*") {
			return true
		}
		return slices.Contains(allow, "std") && !matchAny(deny, imp)
	}
	rel := relative(mod, imp)
	for _, a := range allow {
		if a == "*" || (a != "std" && matchPattern(a, rel)) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if matchPattern(p, path) {
			return true
		}
	}
	return false
}

// matchPattern: "x/..." matches x and everything under it; anything else
// matches itself.
func matchPattern(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return pattern == path
}

func dedupe(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// filesImporting returns the files of p (test files when test is set) that
// import imp.
func filesImporting(p pkg, imp string, test bool) []string {
	names := append(slices.Clone(p.GoFiles), p.CgoFiles...)
	if test {
		names = append(slices.Clone(p.TestGoFiles), p.XTestGoFiles...)
	}
	var out []string
	fset := token.NewFileSet()
	for _, n := range names {
		path := filepath.Join(p.Dir, n)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, is := range f.Imports {
			if s, err := strconv.Unquote(is.Path.Value); err == nil && s == imp {
				out = append(out, path)
				break
			}
		}
	}
	return out
}

// writeTable prints the table as Markdown.
func writeTable(w io.Writer, rows []row) {
	code := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			switch s {
			case "std":
				out[i] = "standard library"
			case "*":
				out[i] = "everything"
			default:
				out[i] = "`" + s + "`"
			}
		}
		return strings.Join(out, ", ")
	}
	fmt.Fprintln(w, "| Packages | May import | Standard library refused | Tests may also import | Rule |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		deny, tests := code(r.Deny), code(r.TestAllow)
		if deny == "" {
			deny = "—"
		}
		if tests == "" {
			tests = "—"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s |\n", r.Packages, code(r.Allow), deny, tests, r.Why)
	}
}
