package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

const (
	controllersFile = "providers/controllers.go"
	migrationsDir   = "repositories/migrations"
)

// resource is what the templates are executed with.
type resource struct {
	root      string
	Module    string
	Name      Name
	Plural    Name
	Fields    []Field
	migration string // file name in migrationsDir
}

func newResource(root, rawName, fieldSpec string) (*resource, error) {
	name, err := parseName(rawName)
	if err != nil {
		return nil, err
	}
	plural := name.Plural()
	for _, w := range []string{name.Snake(), plural.Snake(), name.Lower(), plural.Lower()} {
		if isGoReserved(w) || isSQLReserved(w) {
			return nil, fmt.Errorf("%s: %q is a reserved word in Go or SQL", rawName, w)
		}
	}
	fields, err := parseFields(fieldSpec)
	if err != nil {
		return nil, err
	}
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	next, err := nextMigration(root)
	if err != nil {
		return nil, err
	}
	return &resource{
		root: root, Module: module, Name: name, Plural: plural, Fields: fields,
		migration: fmt.Sprintf("%05d_%s.sql", next, plural.Snake()),
	}, nil
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+(\S+)`)

func modulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod")) //nolint:gosec // the repository's own go.mod
	if err != nil {
		return "", fmt.Errorf("run from the repository root: %w", err)
	}
	m := moduleLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("go.mod has no module line")
	}
	return string(m[1]), nil
}

var migrationName = regexp.MustCompile(`^(\d+)_.*\.sql$`)

// nextMigration is the number after the highest migration's.
func nextMigration(root string) (int, error) {
	entries, err := os.ReadDir(filepath.Join(root, migrationsDir))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	last := 0
	for _, e := range entries {
		if m := migrationName.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > last {
				last = n
			}
		}
	}
	return last + 1, nil
}

// render executes every template; Go files come out gofmt-ed.
func (r *resource) render() ([]file, error) {
	plural := r.Plural.Snake()
	targets := []struct{ tmpl, path string }{
		{"controller.go.tmpl", "controllers/" + plural + ".go"},
		{"controller_test.go.tmpl", "controllers/" + plural + "_test.go"},
		{"service.go.tmpl", "services/" + plural + ".go"},
		{"repository.go.tmpl", "repositories/" + plural + ".go"},
		{"provider.go.tmpl", "providers/" + plural + ".go"},
		{"migration.sql.tmpl", migrationsDir + "/" + r.migration},
	}
	t, err := template.ParseFS(templates, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	files := make([]file, 0, len(targets))
	for _, target := range targets {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, target.tmpl, r); err != nil {
			return nil, fmt.Errorf("%s: %w", target.tmpl, err)
		}
		content := buf.Bytes()
		if strings.HasSuffix(target.path, ".go") {
			if content, err = format.Source(content); err != nil {
				return nil, fmt.Errorf("%s does not parse (a bug in the template): %w", target.tmpl, err)
			}
		}
		files = append(files, file{path: target.path, content: content})
	}
	return files, nil
}

// Template helpers: everything computed from the fields, so the templates
// only place it.

func (r *resource) HasTrim() bool {
	return slices.ContainsFunc(r.Fields, func(f Field) bool { return f.Trim })
}
func (r *resource) HasOptional() bool {
	return slices.ContainsFunc(r.Fields, func(f Field) bool { return f.Optional })
}
func (r *resource) HasRequired() bool {
	return slices.ContainsFunc(r.Fields, func(f Field) bool { return !f.Optional })
}

func (r *resource) columns() []string {
	cols := []string{"id"}
	for _, f := range r.Fields {
		cols = append(cols, f.Snake())
	}
	return append(cols, "created_at", "updated_at")
}

// KeyList is the response's members, sorted, as Go string literals.
func (r *resource) KeyList() string {
	keys := r.columns()
	slices.Sort(keys)
	return quoteAll(keys)
}

// RequiredList is the required fields as Go string literals.
func (r *resource) RequiredList() string {
	var names []string
	for _, f := range r.Fields {
		if !f.Optional {
			names = append(names, f.Snake())
		}
	}
	return quoteAll(names)
}

func quoteAll(ss []string) string {
	quoted := make([]string, len(ss))
	for i, s := range ss {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}

func (r *resource) ColumnList() string { return strings.Join(r.columns(), ", ") }

func (r *resource) InsertColumns() string {
	cols := r.columns()
	return strings.Join(cols[1:len(cols)-2], ", ")
}

func (r *resource) InsertPlaceholders() string {
	ph := make([]string, len(r.Fields))
	for i := range r.Fields {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(ph, ", ")
}

// UpdateSets are the SET clauses of the update, aligned; $1 is the id.
func (r *resource) UpdateSets() []string {
	width := len("updated_at")
	for _, f := range r.Fields {
		width = max(width, len(f.Snake()))
	}
	sets := make([]string, 0, len(r.Fields)+1)
	for i, f := range r.Fields {
		sets = append(sets, fmt.Sprintf("%-*s = COALESCE($%d, %s)", width, f.Snake(), i+2, f.Snake()))
	}
	return append(sets, fmt.Sprintf("%-*s = now()", width, "updated_at"))
}

// Columns are the table's column definitions, aligned, comma-separated.
func (r *resource) Columns() []string {
	defs := [][2]string{{"id", "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"}}
	for _, f := range r.Fields {
		defs = append(defs, [2]string{f.Snake(), f.Column()})
	}
	defs = append(defs,
		[2]string{"created_at", "timestamptz NOT NULL DEFAULT now()"},
		[2]string{"updated_at", "timestamptz NOT NULL DEFAULT now()"})
	width := 0
	for _, d := range defs {
		width = max(width, len(d[0]))
	}
	lines := make([]string, len(defs))
	for i, d := range defs {
		lines[i] = fmt.Sprintf("%-*s %s", width, d[0], d[1])
		if i < len(defs)-1 {
			lines[i] += ","
		}
	}
	return lines
}
