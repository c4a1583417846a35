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
	// Everything a name may collide with is made here, so that the test
	// holds whatever resources the copy has, or has lost.
	write("controllers/extra.go", "package controllers\n\nconst extraRoute = \"/widgets\"\n")
	write("repositories/migrations/00077_gadgets.sql", "-- +goose Up\nCREATE TABLE gadgets (id int);\n-- +goose Down\nDROP TABLE gadgets;\n")
	write("services/gizmos.go", "package services\n")
	write("controllers/bolts.go", "package controllers\n")
	write("services/fixture.go", "package services\n\n// Nut is a name a resource may not take.\ntype Nut struct{}\n")
	write("controllers/fixture.go", "package controllers\n\n// Washer is in the API documents.\n//\n//\t@Description\tA washer.\ntype WasherBody struct{} //\t@name\tWasher\n")
	before := listFiles(t, root)

	free := freeName(t, root, "sample")
	const fields = "name:string"
	tests := []struct{ name, fields, want string }{
		{"bolt", fields, "controllers/bolts.go exists already"},
		{"Bolt", fields, "exists already"},
		{"user", fields, "reserved word"},
		{"nut", fields, "services.Nut exists already in services/fixture.go"},
		{"washer", fields, "API documents have a Washer"},
		{"widget", fields, "route /widgets is registered already"},
		{"gadget", fields, "table gadgets is created already"},
		{"gizmo", fields, "services/gizmos.go exists already"},
		{"select", fields, "reserved word"},
		{"type", fields, "reserved word"},
		{"string", fields, "reserved word"},
		{"2fast", fields, "is not a name"},
		{free, "name:blob", `unknown type "blob"`},
		{free, "name:string name:text", "given twice"},
		{free, "id:int64", "every resource has"},
		{free, "", "no fields"},
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
	if err := run(root, free, fields, false, io.Discard); err == nil || !strings.Contains(err.Error(), "resource:list") {
		t.Errorf("run without a marker = %v, want an error naming it", err)
	}
	if got := listFiles(t, root); len(got) != len(before) {
		t.Errorf("a refused run wrote files: %d before, %d after", len(before), len(got))
	}
}

// freeName is base, or base with a number, whichever no resource of the
// copy has taken: a resource generated into the repository under test (as
// a user's first product is) must not make the test collide with it.
func freeName(t *testing.T, root, base string) string {
	t.Helper()
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name += strings.Repeat("x", i)
		}
		n, err := parseName(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "controllers", n.Plural().Snake()+".go")); errors.Is(err, fs.ErrNotExist) {
			return name
		}
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
	// Names no resource of the copy has: the repository under test may
	// hold generated resources of its own, a product say.
	thing := freeName(t, root, "gadgetry")
	part := freeName(t, root, "gadgetry_part")
	// The first run leaves make generate to the second, which is the
	// default path; the documents must come out with both resources.
	if stderr, err := generate("-name", thing, "-generate=false", "-fields", strings.Join(spec, " ")); err != nil {
		t.Fatalf("generate %s: %v\n%s", thing, err, stderr)
	}
	if stderr, err := generate("-name", part, "-fields", "count:int"); err != nil {
		t.Fatalf("generate %s: %v\n%s", part, err, stderr)
	}

	// A second run for the same name refuses in one line and changes nothing.
	before := listFiles(t, root)
	if stderr, err := generate("-name", thing, "-fields", "name:string"); err == nil || strings.Count(stderr, "\n") != 1 {
		t.Errorf("generating %s again: %v, stderr %q; want exit 1 and one line", thing, err, stderr)
	}
	if !equalFiles(before, listFiles(t, root)) {
		t.Error("the refused run changed files")
	}

	goCmd("build", "./...")
	goCmd("vet", "./...")
	plural := func(raw string) Name {
		n, err := parseName(raw)
		if err != nil {
			t.Fatal(err)
		}
		return n.Plural()
	}
	things, parts := plural(thing), plural(part)
	goCmd("test", "-race", "-count=1", "./controllers/", "-run", "^Test("+things.Go()+"|"+parts.Go()+"|Docs)")

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
			"/" + things.Snake(): {"get", "post"}, "/" + things.Snake() + "/{id}": {"get", "put", "delete"},
			"/" + parts.Snake(): {"get", "post"}, "/" + parts.Snake() + "/{id}": {"get", "put", "delete"},
		} {
			for _, m := range methods {
				if _, ok := d.Paths[path][m]; !ok {
					t.Errorf("%s has no %s %s", doc, strings.ToUpper(m), path)
				}
			}
		}
	}
}
