package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/example/apitemplate/internal/repocopy"
)

func TestRenameBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a copy of the repository")
	}
	root := repocopy.Copy(t, filepath.Join("..", ".."))
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod")) //nolint:gosec // the copy's go.mod
	if err != nil {
		t.Fatal(err)
	}
	// Whatever this copy is called now, even after a rename of its own.
	oldPath, newPath := modfile.ModulePath(gomod), "example.org/renamed/service"
	if oldPath == newPath {
		newPath = "example.org/renamed/again"
	}
	if err := rename(root, newPath); err != nil {
		t.Fatal(err)
	}
	gomod, err = os.ReadFile(filepath.Join(root, "go.mod")) //nolint:gosec // the copy's go.mod
	if err != nil || modfile.ModulePath(gomod) != newPath {
		t.Fatalf("go.mod module = %q (%v), want %s", modfile.ModulePath(gomod), err, newPath)
	}
	err = fs.WalkDir(os.DirFS(root), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(os.DirFS(root), path)
		binary := bytes.IndexByte(b, 0) >= 0 // a stray test binary, say: rename leaves those alone
		if err == nil && !binary && bytes.Contains(b, []byte(oldPath)) {
			t.Errorf("%s still names the old module", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The root package is imported by its name, as goimports wants.
	main, err := os.ReadFile(filepath.Join(root, "cmd", "server", "serve.go")) //nolint:gosec // the copy's file
	if err != nil || !bytes.Contains(main, []byte(`apitemplate "`+newPath+`"`)) {
		t.Errorf("cmd/server/serve.go does not import %s by the name apitemplate (%v)", newPath, err)
	}
	for _, args := range [][]string{
		{"build", "./..."},
		{"vet", "./..."},
		{"test", "-count=1", "./services/", "./controllers/", "-run", "TestHealth|TestItemsGet"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestRenameRefuses(t *testing.T) {
	root := t.TempDir()
	if err := rename(root, "github.com/acme/shop"); err == nil {
		t.Error("rename without a go.mod succeeded")
	}
	for _, bad := range []string{"", "not a path", "github.com/acme/shop/", "-x"} {
		if err := rename(root, bad); err == nil {
			t.Errorf("rename(%q) succeeded", bad)
		}
	}
}
