package apitemplate_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/example/apitemplate"

// layerRules lists, for each layer, the packages its non-test code must not
// import, directly or through another package. A path forbids its
// subpackages too.
var layerRules = []struct {
	layer     string
	forbidden []string
}{
	// HTTP handlers reach the database only through services, and know no
	// driver: repositories turn its errors into the domain's.
	{"controllers", []string{
		module + "/repositories", "github.com/jmoiron/sqlx", "github.com/jackc/pgx/v5",
		"database/sql", "database/sql/driver",
	}},
	// The domain knows nothing of HTTP or SQL (see the services package doc).
	{"services", []string{
		"github.com/gin-gonic/gin", "github.com/jmoiron/sqlx", module + "/controllers", module + "/repositories",
		"net/http", "database/sql", "github.com/jackc/pgx/v5",
	}},
	{"repositories", []string{"github.com/gin-gonic/gin", module + "/controllers"}},
}

// listedPackage is the part of `go list -json` output the rules need.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

// importGraph returns every package the layers depend on, keyed by import
// path, with its non-test imports.
func importGraph(t *testing.T, layers []string) map[string][]string {
	t.Helper()
	args := []string{"list", "-deps", "-json=ImportPath,Imports,Error"}
	for _, l := range layers {
		args = append(args, "./"+l)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		graph[p.ImportPath] = p.Imports
	}
	return graph
}

// importChain returns the shortest chain of imports from pkg to a package
// that matches forbidden, or nil if there is none.
func importChain(graph map[string][]string, pkg, forbidden string) []string {
	matches := func(p string) bool { return p == forbidden || strings.HasPrefix(p, forbidden+"/") }
	parent := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range graph[p] {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = p
			if matches(imp) {
				chain := []string{imp}
				for q := p; q != ""; q = parent[q] {
					chain = append(chain, q)
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func TestLayerBoundaries(t *testing.T) {
	layers := make([]string, len(layerRules))
	for i, r := range layerRules {
		layers[i] = r.layer
	}
	graph := importGraph(t, layers)
	for _, rule := range layerRules {
		t.Run(rule.layer, func(t *testing.T) {
			pkg := module + "/" + rule.layer
			if _, ok := graph[pkg]; !ok {
				t.Fatalf("go list did not report %s", pkg)
			}
			for _, forbidden := range rule.forbidden {
				chain := importChain(graph, pkg, forbidden)
				switch {
				case chain == nil:
				case len(chain) == 2:
					t.Errorf("%s imports %s, which the %s layer must not use", rule.layer, chain[1], rule.layer)
				default:
					t.Errorf("%s depends on %s, which the %s layer must not use, through %s",
						rule.layer, chain[len(chain)-1], rule.layer, strings.Join(chain, " -> "))
				}
			}
		})
	}
}

// TestImportChainFindsViolations keeps TestLayerBoundaries honest: the search
// it relies on must find both direct and indirect imports.
func TestImportChainFindsViolations(t *testing.T) {
	graph := map[string][]string{
		"a": {"b", "fmt"},
		"b": {"github.com/jmoiron/sqlx", "c"},
		"c": {"a"},
	}
	tests := []struct {
		pkg, forbidden string
		want           []string
	}{
		{"b", "github.com/jmoiron/sqlx", []string{"b", "github.com/jmoiron/sqlx"}},
		{"a", "github.com/jmoiron/sqlx", []string{"a", "b", "github.com/jmoiron/sqlx"}},
		{"a", "github.com/jmoiron", []string{"a", "b", "github.com/jmoiron/sqlx"}},
		{"a", "github.com/jmoiron/sq", nil},
		{"c", "net/http", nil},
	}
	for _, tt := range tests {
		if got := importChain(graph, tt.pkg, tt.forbidden); !slices.Equal(got, tt.want) {
			t.Errorf("importChain(%s, %s) = %q, want %q", tt.pkg, tt.forbidden, got, tt.want)
		}
	}
}

// The service's module graph holds what the service and its generators
// need: developer tools that are not generators (live reload, linters) run
// at a pinned version from the Makefile, outside it, and the generators
// are go.mod tools, so `go tool wire` and `go tool swag` work on a clone.
func TestModuleGraphHoldsNoDeveloperTools(t *testing.T) {
	out, err := exec.Command("go", "mod", "graph").Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	developerTools := []string{"github.com/air-verse/air", "github.com/cosmtrek/air", "github.com/gohugoio/", "github.com/bep/godartsass", "github.com/golangci/"}
	for line := range strings.SplitSeq(string(out), "\n") {
		for _, tool := range developerTools {
			if strings.Contains(line, tool) {
				t.Errorf("go mod graph: %s", line)
			}
		}
	}
	tools, err := exec.Command("go", "tool").Output()
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	for _, generator := range []string{"github.com/google/wire/cmd/wire", "github.com/swaggo/swag/cmd/swag"} {
		if !slices.Contains(strings.Fields(string(tools)), generator) {
			t.Errorf("go tool does not list %s:\n%s", generator, tools)
		}
	}
}
