package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/example/apitemplate/internal/repocopy"
)

// listFiles maps every file under root to its content.
func listFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path) //nolint:gosec // files the test wrote
		files[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRunRefuses(t *testing.T) {
	root := repocopy.Copy(t, filepath.Join("..", ".."))
	write := func(path, content string) {
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("controllers/extra.go", "package controllers\n\nconst extraRoute = \"/widgets\"\n")
	write("repositories/migrations/00077_gadgets.sql", "-- +goose Up\nCREATE TABLE gadgets (id int);\n-- +goose Down\nDROP TABLE gadgets;\n")
	write("services/gizmos.go", "package services\n")
	before := listFiles(t, root)

	const fields = "name:string"
	tests := []struct{ name, fields, want string }{
		{"item", fields, "exists already"},
		{"Item", fields, "exists already"},
		{"user", fields, "reserved word"},
		{"auth", fields, "exists already"},
		{"page", fields, "controllers/pages.go exists already"},
		{"transactor", fields, "services.Transactor exists already in services/services.go"},
		{"problem", fields, "API documents have a Problem"},
		{"widget", fields, "route /widgets is registered already"},
		{"gadget", fields, "table gadgets is created already"},
		{"gizmo", fields, "services/gizmos.go exists already"},
		{"select", fields, "reserved word"},
		{"type", fields, "reserved word"},
		{"string", fields, "reserved word"},
		{"2fast", fields, "is not a name"},
		{"product", "name:blob", `unknown type "blob"`},
		{"product", "name:string name:text", "given twice"},
		{"product", "id:int64", "every resource has"},
		{"product", "", "no fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.fields, func(t *testing.T) {
			var out bytes.Buffer
			err := run(root, tt.name, tt.fields, false, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error spans lines: %q", err)
			}
		})
	}
	if after := listFiles(t, root); !equalFiles(before, after) {
		t.Error("a refused run changed files")
	}

	write("providers/controllers.go", strings.ReplaceAll(before[filepath.Join(root, controllersFile)], "// resource:list", ""))
	if err := run(root, "product", fields, false, io.Discard); err == nil || !strings.Contains(err.Error(), "resource:list") {
		t.Errorf("run without a marker = %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(root, "controllers", "products.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused run wrote controllers/products.go")
	}
}

func equalFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestGeneratedResourceWorks generates resources with every field type in
// a copy of the repository and holds them to what hand-written code must
// pass: build, vet, their own HTTP tests, the docs tests, and the documents.
func TestGeneratedResourceWorks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a copy of the repository")
	}
	root := repocopy.Copy(t, filepath.Join("..", ".."))
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	var spec []string
	for _, name := range slices.Sorted(maps.Keys(fieldTypes)) {
		spec = append(spec, "req_"+name+":"+name, "opt_"+name+":"+name+"?")
	}
	generator := filepath.Join(t.TempDir(), "resource")
	goCmd("build", "-o", generator, "./cmd/resource")
	generate := func(args ...string) (string, error) {
		cmd := exec.Command(generator, args...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	// The first run leaves make generate to the second, which is the
	// default path; the documents must come out with both resources.
	if stderr, err := generate("-name", "product", "-generate=false", "-fields", strings.Join(spec, " ")); err != nil {
		t.Fatalf("generate product: %v\n%s", err, stderr)
	}
	if stderr, err := generate("-name", "ProductCategory", "-fields", "count:int"); err != nil {
		t.Fatalf("generate ProductCategory: %v\n%s", err, stderr)
	}

	// A second run for the same name refuses in one line and changes nothing.
	before := listFiles(t, root)
	if stderr, err := generate("-name", "product", "-fields", "name:string"); err == nil || strings.Count(stderr, "\n") != 1 {
		t.Errorf("generating product again: %v, stderr %q; want exit 1 and one line", err, stderr)
	}
	if !equalFiles(before, listFiles(t, root)) {
		t.Error("the refused run changed files")
	}

	goCmd("build", "./...")
	goCmd("vet", "./...")
	goCmd("test", "-race", "-count=1", "./controllers/", "-run", "^Test(Products|ProductCategories|Docs)")

	for _, doc := range []string{"docs/swagger.json", "docs/openapi.json"} {
		raw, err := os.ReadFile(filepath.Join(root, doc)) //nolint:gosec // the copy's document
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		for path, methods := range map[string][]string{
			"/products": {"get", "post"}, "/products/{id}": {"get", "put", "delete"},
			"/product_categories": {"get", "post"}, "/product_categories/{id}": {"get", "put", "delete"},
		} {
			for _, m := range methods {
				if _, ok := d.Paths[path][m]; !ok {
					t.Errorf("%s has no %s %s", doc, strings.ToUpper(m), path)
				}
			}
		}
	}
}
