package main

import (
	"fmt"
	"slices"
	"strings"
)

// fieldType is everything the generated code knows about a field type: this
// table is the one place to change or add one.
type fieldType struct {
	Domain  string    // domain and repository type
	Body    string    // type in request and response bodies, when not Domain
	SQL     string    // column type
	Check   string    // column CHECK, %[1]s standing for the column name
	Binding string    // validation rules, after required/omitnil
	Swag    string    // swaggertype, when swag cannot infer it
	Format  string    // swag format
	Bounds  string    // swag minimum and maximum, as struct tags
	Example string    // swag example
	Trim    bool      // trimmed before validation
	Samples [2]string // valid JSON values as Go expressions, each read back byte for byte
	Invalid []sample  // JSON values as Go expressions that must get a 400
}

type sample struct{ Name, Value string }

var fieldTypes = map[string]fieldType{
	"string": {
		Domain: "string", SQL: "text", Check: "char_length(%[1]s) BETWEEN 1 AND 255", Binding: "min=1,max=255",
		Example: "Example", Trim: true,
		Samples: [2]string{`"Example"`, `strings.Repeat("é", 255)`},
		Invalid: []sample{{"empty", `""`}, {"blank", `"   "`}, {"256 characters", `strings.Repeat("é", 256)`}, {"a number", `42`}},
	},
	"text": {
		Domain: "string", SQL: "text", Check: "char_length(%[1]s) <= 10000", Binding: "max=10000",
		Example: "Some longer text",
		Samples: [2]string{`"Some longer text"`, `strings.Repeat("ü", 10000)`},
		Invalid: []sample{{"10001 characters", `strings.Repeat("ü", 10001)`}, {"a number", `7`}},
	},
	"int": {
		Domain: "int", SQL: "integer", Binding: "min=-2147483648,max=2147483647", Example: "42",
		Format: "int32", Bounds: `minimum:"-2147483648" maximum:"2147483647"`,
		Samples: [2]string{`42`, `-2147483648`},
		Invalid: []sample{{"over 32 bits", `int64(2147483648)`}, {"fractional", `1.5`}, {"a string", `"12"`}},
	},
	"int64": {
		Domain: "int64", SQL: "bigint", Format: "int64", Example: "1999",
		Samples: [2]string{`int64(1999)`, `int64(9223372036854775807)`},
		Invalid: []sample{{"beyond 64 bits", `json.RawMessage("99999999999999999999")`}, {"fractional", `1.5`}, {"a string", `"12"`}},
	},
	"float64": {
		Domain: "float64", SQL: "double precision", Format: "double", Example: "1.5",
		Samples: [2]string{`1.5`, `-0.001`},
		Invalid: []sample{{"a string", `"1.5"`}, {"a bool", `true`}},
	},
	"bool": {
		Domain: "bool", SQL: "boolean", Example: "true",
		Samples: [2]string{`true`, `false`},
		Invalid: []sample{{"a string", `"yes"`}, {"a number", `1`}},
	},
	"time": {
		Domain: "time.Time", Body: "Timestamp", SQL: "timestamptz", Swag: "string", Format: "date-time",
		Example: "2026-01-02T15:04:05.123456Z",
		Samples: [2]string{`"2026-01-02T15:04:05.123456Z"`, `"1999-12-31T23:59:59Z"`},
		Invalid: []sample{{"not a time", `"tomorrow"`}, {"a date only", `"2026-01-02"`}, {"a number", `5`}},
	},
}

// typeNames lists the types for messages, in a stable order.
func typeNames() string {
	names := make([]string, 0, len(fieldTypes))
	for n := range fieldTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Field is one column of a generated resource.
type Field struct {
	Name
	Optional bool
	fieldType
}

// reservedColumns are the columns every generated table has already.
var reservedColumns = []string{"id", "created_at", "updated_at"}

// parseFields reads "name:string price_cents:int64 note:text?".
func parseFields(spec string) ([]Field, error) {
	var fields []Field
	seen := map[string]bool{}
	for token := range strings.FieldsSeq(spec) {
		rawName, rawType, ok := strings.Cut(token, ":")
		if !ok {
			return nil, fmt.Errorf("field %q: want name:type", token)
		}
		name, err := parseName(rawName)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", token, err)
		}
		typeName, optional := strings.CutSuffix(rawType, "?")
		ft, ok := fieldTypes[typeName]
		if !ok {
			return nil, fmt.Errorf("field %q: unknown type %q (want one of %s, with ? for optional)", token, rawType, typeNames())
		}
		column := name.Snake()
		switch {
		case slices.Contains(reservedColumns, column):
			return nil, fmt.Errorf("field %q: %s is a column every resource has already", token, column)
		case seen[column]:
			return nil, fmt.Errorf("field %q: %s is given twice", token, column)
		case isSQLReserved(column):
			return nil, fmt.Errorf("field %q: %s is a reserved word", token, column)
		}
		seen[column] = true
		fields = append(fields, Field{Name: name, Optional: optional, fieldType: ft})
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("no fields: give at least one, as in -fields \"name:string\"")
	}
	return fields, nil
}

// BodyType is the field's type in bodies, without the pointer.
func (f Field) BodyType() string {
	if f.Body != "" {
		return f.Body
	}
	return f.Domain
}

func (f Field) ptr(t string) string {
	if f.Optional {
		return "*" + t
	}
	return t
}

// GoType is the domain type: a pointer when the column is nullable.
func (f Field) GoType() string { return f.ptr(f.Domain) }

// ResponseType is the type in responses: a pointer shows as null.
func (f Field) ResponseType() string { return f.ptr(f.BodyType()) }

// CreateTag is the struct tag in a create request. Every field is a pointer
// there, so "required" means present and zero values stay valid.
func (f Field) CreateTag() string {
	rule := "required"
	if f.Optional {
		rule = "omitnil"
	}
	return f.requestTag(rule)
}

// UpdateTag is the struct tag in an update request: absent keeps the value.
func (f Field) UpdateTag() string { return f.requestTag("omitnil") }

func (f Field) requestTag(rule string) string {
	switch {
	case f.Binding != "":
		rule += "," + f.Binding
	case rule == "omitnil":
		rule = ""
	}
	tag := fmt.Sprintf(`json:"%s"`, f.Snake())
	if rule != "" {
		tag += fmt.Sprintf(` binding:"%s"`, rule)
	}
	return tag + f.docTags()
}

// ResponseTag is the struct tag in a response.
func (f Field) ResponseTag() string {
	return fmt.Sprintf(`json:"%s"`, f.Snake()) + f.docTags()
}

func (f Field) docTags() string {
	var tag string
	if f.Optional {
		tag += ` extensions:"x-nullable"` // becomes nullable: true in OpenAPI 3
	}
	if f.Swag != "" {
		tag += fmt.Sprintf(` swaggertype:"%s"`, f.Swag)
	}
	if f.Format != "" {
		tag += fmt.Sprintf(` format:"%s"`, f.Format)
	}
	if f.Bounds != "" {
		tag += " " + f.Bounds
	}
	return tag + fmt.Sprintf(` example:"%s"`, f.Example)
}

// FromCreate is the domain value of the field of create request req.
func (f Field) FromCreate(req string) string {
	v := req + "." + f.Go()
	switch {
	case f.Optional && f.Body != "":
		return fmt.Sprintf("(*%s)(%s)", f.Domain, v)
	case f.Optional:
		return v
	case f.Body != "":
		return fmt.Sprintf("%s(*%s)", f.Domain, v)
	}
	return "*" + v
}

// FromUpdate is the domain change of the field of update request req.
func (f Field) FromUpdate(req string) string {
	v := req + "." + f.Go()
	if f.Body != "" {
		return fmt.Sprintf("(*%s)(%s)", f.Domain, v)
	}
	return v
}

// ToResponse is the response value of the field of domain value v.
func (f Field) ToResponse(v string) string {
	v += "." + f.Go()
	if f.Body == "" {
		return v
	}
	if f.Optional {
		return fmt.Sprintf("(*%s)(%s)", f.Body, v)
	}
	return fmt.Sprintf("%s(%s)", f.Body, v)
}

// Column is the field's column definition, without the padding.
func (f Field) Column() string {
	def := f.SQL
	if !f.Optional {
		def += " NOT NULL"
	}
	if f.Check != "" {
		def += " CHECK (" + fmt.Sprintf(f.Check, f.Snake()) + ")"
	}
	return def
}
