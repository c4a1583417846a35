// Command rename gives a copy of the template a module path of its own, as
// gonew does for a published template: go.mod, every import, and every
// other mention in text files (docs, Makefile, README, lint config).
//
//	go run ./cmd/rename github.com/acme/shop
//
// The root package keeps its name, apitemplate: an import path's last
// element need not match the package name, so everything still builds.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

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
		if err := r.WriteFile(path, mention.ReplaceAll(b, replacement), info.Mode().Perm()); err != nil {
			return fmt.Errorf("rewrite %s: %w", path, err)
		}
		return nil
	})
}
