package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// refuseTaken fails when anything the resource would add exists already:
// a file, a table, a route, a Go identifier in the same package or a name in
// the API documents.
func (r *resource) refuseTaken(files []file) error {
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(r.root, f.path)); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %s exists already", r.Name.Snake(), f.path)
		}
	}
	table := regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?"?` + r.Plural.Snake() + `\b`)
	if path, ok := r.find(migrationsDir, ".sql", table); ok {
		return fmt.Errorf("%s: table %s is created already in %s", r.Name.Snake(), r.Plural.Snake(), path)
	}
	route := regexp.MustCompile(`"/` + r.Plural.Snake() + `["/]`)
	if path, ok := r.find("controllers", ".go", route); ok {
		return fmt.Errorf("%s: route /%s is registered already in %s", r.Name.Snake(), r.Plural.Snake(), path)
	}
	docName := regexp.MustCompile(`@name\s+(\w+)`)
	for _, f := range files {
		if !strings.HasSuffix(f.path, ".go") {
			continue
		}
		dir := filepath.Dir(f.path)
		existing, err := r.identifiers(dir)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		parsed, err := parser.ParseFile(fset, f.path, f.content, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		for _, id := range topLevel(parsed) {
			if where, ok := existing[id]; ok {
				return fmt.Errorf("%s: %s.%s exists already in %s; choose another name", r.Name.Snake(), dir, id, where)
			}
		}
		for _, m := range docName.FindAllSubmatch(f.content, -1) {
			pattern := regexp.MustCompile(`@name\s+` + string(m[1]) + `\b`)
			if path, ok := r.find(dir, ".go", pattern); ok {
				return fmt.Errorf("%s: the API documents have a %s already, from %s", r.Name.Snake(), m[1], path)
			}
		}
	}
	return nil
}

// find returns the first file in dir with the suffix whose content matches.
func (r *resource) find(dir, suffix string, re *regexp.Regexp) (string, bool) {
	paths, _ := filepath.Glob(filepath.Join(r.root, dir, "*"+suffix))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && re.Match(b) { //nolint:gosec // the repository's own files
			rel, _ := filepath.Rel(r.root, p)
			return rel, true
		}
	}
	return "", false
}

// identifiers maps each top-level name declared in dir's Go files, tests
// included, to the file declaring it.
func (r *resource) identifiers(dir string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(r.root, dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	ids := map[string]string{}
	fset := token.NewFileSet()
	for _, p := range paths {
		parsed, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		rel, _ := filepath.Rel(r.root, p)
		for _, id := range topLevel(parsed) {
			ids[id] = rel
		}
	}
	return ids, nil
}

// topLevel lists a file's package-level names, methods as Type.Method.
func topLevel(f *ast.File) []string {
	var names []string
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names = append(names, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					names = append(names, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name != "_" {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	return names
}

// register returns providers/controllers.go with the resource added above
// each marker comment.
func (r *resource) register() ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(r.root, controllersFile)) //nolint:gosec // the repository's own file
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	inserts := []struct{ marker, line string }{
		{"// resource:sets", r.Name.Go() + "Set,"},
		{"// resource:params", r.Plural.Lower() + " *controllers." + r.Name.Go() + "Controller,"},
		{"// resource:list", r.Plural.Lower() + ","},
	}
	for _, in := range inserts {
		i := bytes.Index(src, []byte(in.marker))
		if i < 0 {
			return nil, fmt.Errorf("register: %s has no %q line; add the resource there by hand", controllersFile, in.marker)
		}
		lineStart := bytes.LastIndexByte(src[:i], '\n') + 1
		indent := src[lineStart:i]
		line := append(append(bytes.Clone(indent), in.line...), '\n')
		src = append(src[:lineStart], append(line, src[lineStart:]...)...)
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("register: %s does not parse after the change: %w", controllersFile, err)
	}
	return out, nil
}

// isGoReserved reports Go's keywords and predeclared names.
func isGoReserved(w string) bool {
	if token.IsKeyword(w) {
		return true
	}
	switch w {
	case "any", "bool", "byte", "comparable", "complex64", "complex128", "error", "float32", "float64",
		"int", "int8", "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32",
		"uint64", "uintptr", "true", "false", "iota", "nil", "append", "cap", "clear", "close", "complex",
		"copy", "delete", "imag", "len", "make", "max", "min", "new", "panic", "print", "println", "real", "recover":
		return true
	}
	return false
}

// sqlReserved are PostgreSQL's reserved key words: a table or column so named
// would need quoting in every statement.
var sqlReserved = strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary
both case cast check collate collation column concurrently constraint create cross current_catalog
current_date current_role current_schema current_time current_timestamp current_user default deferrable
desc distinct do else end except false fetch for foreign freeze from full grant group having ilike in
initially inner intersect into is isnull join lateral leading left like limit localtime localtimestamp
natural not notnull null offset on only or order outer overlaps placing primary references returning
right select session_user similar some symmetric system_user table tablesample then to trailing true
union unique user using variadic verbose when where window with`)

func isSQLReserved(w string) bool { return slices.Contains(sqlReserved, w) }
