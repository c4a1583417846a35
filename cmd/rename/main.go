// Command rename gives a copy of the template a module path of its own, as
// gonew does for a published template: go.mod, every import, and every
// other mention in text files (docs, Makefile, README, lint config).
//
//	go run ./cmd/rename github.com/acme/shop
//
// The root package keeps its name, apitemplate: an import path's last
// element need not match the package name, so everything still builds, and
// the imports of it say the name (apitemplate "github.com/acme/shop"), as
// goimports wants when the two differ.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./cmd/rename NEW/MODULE/PATH")
		os.Exit(2)
	}
	if err := rename(".", os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(1)
	}
}

func rename(root, newPath string) error {
	if err := module.CheckPath(newPath); err != nil {
		return fmt.Errorf("%q is not a module path: %w", newPath, err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod")) //nolint:gosec // the repository's own go.mod
	if err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	oldPath := modfile.ModulePath(gomod)
	if oldPath == "" {
		return errors.New("go.mod has no module line")
	}
	// The old path only where it ends: not inside a longer path that merely
	// starts the same way.
	mention := regexp.MustCompile(regexp.QuoteMeta(oldPath) + `($|[^A-Za-z0-9._~-])`)
	replacement := []byte(newPath + "$1")
	rootPkg, err := packageName(root)
	if err != nil {
		return err
	}
	// An import of the root package alone on its line, not yet named.
	rootImport := regexp.MustCompile(`(?m)^(\s*)"` + regexp.QuoteMeta(newPath) + `"$`)
	named := []byte("${1}" + rootPkg + ` "` + newPath + `"`)
	if path.Base(newPath) == rootPkg {
		named = nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("open %s: %w", root, err)
	}
	defer func() { _ = r.Close() }() // a directory handle: WriteFile has closed what it wrote
	return fs.WalkDir(r.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := r.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if bytes.IndexByte(b, 0) >= 0 || !mention.Match(b) {
			return nil // binary, or nothing to change
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", path, err)
		}
		b = mention.ReplaceAll(b, replacement)
		if strings.HasSuffix(path, ".go") && named != nil {
			b = rootImport.ReplaceAll(b, named)
		}
		if err := r.WriteFile(path, b, info.Mode().Perm()); err != nil {
			return fmt.Errorf("rewrite %s: %w", path, err)
		}
		return nil
	})
}

// packageName is the name of the package in the root directory.
func packageName(root string) (string, error) {
	pkgs, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil || len(pkgs) == 0 {
		return "", fmt.Errorf("no Go files at %s: run from the repository root", root)
	}
	f, err := parser.ParseFile(token.NewFileSet(), pkgs[0], nil, parser.PackageClauseOnly)
	if err != nil {
		return "", fmt.Errorf("read the root package: %w", err)
	}
	return strings.TrimSuffix(f.Name.Name, "_test"), nil
}
