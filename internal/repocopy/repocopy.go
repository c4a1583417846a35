// Package repocopy copies this repository into a test's temporary directory,
// for tests that change a tree (generators, renames) and then build it.
package repocopy

import (
	"io/fs"
	"os"
	"slices"
	"testing"
)

// Copy copies the repository whose root is root into a new temporary
// directory and returns it. It leaves out what is not source (.git,
// node_modules and the build outputs bin/ and tmp/) and the top-level
// directories named in leaveOut.
func Copy(t testing.TB, root string, leaveOut ...string) string {
	t.Helper()
	src, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }() // directory handles: closing them loses nothing
	dir := t.TempDir()
	dst, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dst.Close() }()
	err = fs.WalkDir(src.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Name() == ".git" && !d.IsDir():
			// A worktree's .git is a file naming the real repository: git run
			// in the copy would act on that one.
			return nil
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || path == "bin" || path == "tmp" || slices.Contains(leaveOut, path)):
			return fs.SkipDir
		case d.IsDir():
			return dst.MkdirAll(path, 0o750)
		case !d.Type().IsRegular():
			return nil
		}
		b, err := src.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return dst.WriteFile(path, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy the repository: %v", err)
	}
	return dir
}
