package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"

	"github.com/example/apitemplate/services"
)

// Binder reads request bodies, query strings and path parameters into
// structs and validates them against their `binding` tags. Failures come
// back as *ValidationError or *BadRequestError with JSON field names.
type Binder struct {
	validate *validator.Validate
}

// NewBinder returns a Binder with its own validator, so Gin's package-level
// one is never touched.
func NewBinder() *Binder {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.SetTagName("binding")
	v.RegisterTagNameFunc(fieldName)
	// Passwords are measured in bytes: bcrypt reads at most 72 of them and
	// would cut a longer one silently.
	_ = v.RegisterValidation("minbytes", func(fl validator.FieldLevel) bool {
		limit, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) >= limit
	})
	_ = v.RegisterValidation("maxbytes", func(fl validator.FieldLevel) bool {
		limit, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) <= limit
	})
	// An offset is bounded, so that no page reads more than about
	// services.MaxOffset rows; past it a list is read by cursor.
	_ = v.RegisterValidation("offset", func(fl validator.FieldLevel) bool {
		n := fl.Field().Int()
		return n >= 0 && n <= services.MaxOffset
	})
	return &Binder{validate: v}
}

// fieldName is the name a client knows a field by: its json, form or uri tag.
func fieldName(f reflect.StructField) string {
	for _, tag := range []string{"json", "form", "uri"} {
		if name, _, _ := strings.Cut(f.Tag.Get(tag), ","); name != "" && name != "-" {
			return name
		}
	}
	return f.Name
}

// normalizer is implemented by requests that tidy their input (trimming,
// lower-casing) before the rules are checked.
type normalizer interface {
	normalize()
}

// crossChecker is implemented by requests with rules between fields, which
// tags cannot say; it is asked once each field has passed its own.
type crossChecker interface {
	crossCheck() []FieldError
}

// JSON decodes the request body into dst and validates it. Unknown fields are
// ignored.
func (b *Binder) JSON(c *gin.Context, dst any) error {
	raw, err := readValue(c)
	if err != nil {
		return err
	}
	// encoding/json leaves dst untouched on null. Reporting the fields it
	// lacks helps a client as it does for {}, but a null that breaks no rule
	// (an update) must still be refused: the documents say the body is an
	// object, and an empty update nobody meant is no answer to give.
	if string(raw) == "null" {
		if err := b.check(dst, "request body failed validation"); err != nil {
			return err
		}
		return &BadRequestError{Detail: "request body must be a JSON object"}
	}
	raw, err = exactKeys(raw, dst)
	if err != nil {
		return decodeError(err)
	}
	return b.decode(raw, dst, nil)
}

// MergePatch decodes a JSON Merge Patch (RFC 7396) into dst, a struct of
// pointer fields, and validates it: an absent member leaves its field nil
// (keep the value); a null one clears an optional field to its zero value
// ("" for a description) and is refused on a field tagged patch:"required",
// which cannot be cleared.
func (b *Binder) MergePatch(c *gin.Context, dst any) error {
	raw, err := readValue(c)
	if err != nil {
		return err
	}
	if raw[0] != '{' {
		return &BadRequestError{Detail: "request body must be a JSON object (a merge patch)"}
	}
	raw, err = exactKeys(raw, dst)
	if err != nil {
		return decodeError(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return decodeError(err)
	}
	var refused []FieldError
	t := reflect.TypeOf(dst).Elem()
	for i := range t.NumField() {
		f := t.Field(i)
		name := fieldName(f)
		if v, ok := members[name]; !ok || string(v) != "null" {
			continue
		}
		if f.Tag.Get("patch") == "required" {
			refused = append(refused, FieldError{Field: name, Message: "must not be null: it cannot be cleared"})
			delete(members, name)
			continue
		}
		zero, _ := json.Marshal(reflect.Zero(f.Type.Elem()).Interface()) // a plain value always encodes
		members[name] = zero
	}
	cleared, err := json.Marshal(members)
	if err != nil {
		return fmt.Errorf("re-encode merge patch: %w", err)
	}
	return b.decode(cleared, dst, refused)
}

// readValue reads the request body, which must be exactly one JSON value.
func readValue(c *gin.Context) (json.RawMessage, error) {
	dec := json.NewDecoder(c.Request.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, &BadRequestError{Detail: "request body must hold a single JSON value"}
	}
	return raw, nil
}

// decode fills dst from the object raw and validates it; earlier are
// failures already found, reported with the rest, each field once.
func (b *Binder) decode(raw json.RawMessage, dst any, earlier []FieldError) error {
	const detail = "request body failed validation"
	if err := json.Unmarshal(raw, dst); err != nil {
		return decodeError(err)
	}
	fields := append(earlier, nulFields(dst)...)
	err := b.check(dst, detail)
	if len(fields) == 0 {
		return err
	}
	var invalid *ValidationError
	if err != nil && !errors.As(err, &invalid) {
		return err
	}
	if invalid != nil {
		for _, fe := range invalid.Errors {
			if !slices.ContainsFunc(fields, func(f FieldError) bool { return f.Field == fe.Field }) {
				fields = append(fields, fe)
			}
		}
	}
	return &ValidationError{Detail: detail, Errors: fields}
}

// exactKeys drops the members of the object raw whose names are not exactly
// one of dst's JSON field names. encoding/json matches names without regard
// to case, so {"NAME": …} would fill name, while the documents (and every
// other client library) treat it as an unknown field, which is ignored.
func exactKeys(raw json.RawMessage, dst any) (json.RawMessage, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("decode request body: %w", err)
	}
	known := jsonNames(reflect.TypeOf(dst).Elem())
	dropped := false
	for name := range members {
		if !slices.Contains(known, name) {
			delete(members, name)
			dropped = true
		}
	}
	if !dropped {
		return raw, nil
	}
	out, err := json.Marshal(members)
	if err != nil {
		return nil, fmt.Errorf("re-encode request body: %w", err)
	}
	return out, nil
}

// nulFields names the text fields of a request struct that hold a NUL
// character: JSON allows "\u0000", PostgreSQL text cannot store it, and the
// insert would fail as a 500.
func nulFields(dst any) []FieldError {
	v := reflect.ValueOf(dst).Elem()
	var fields []FieldError
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			f = f.Elem()
		}
		if f.Kind() == reflect.String && strings.ContainsRune(f.String(), 0) {
			fields = append(fields, FieldError{Field: fieldName(v.Type().Field(i)), Message: "must not contain NUL characters"})
		}
	}
	return fields
}

// jsonNames lists the JSON names of a request struct's fields.
func jsonNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		names = append(names, fieldName(t.Field(i)))
	}
	return names
}

// Query binds the query string into dst by its `form` tags.
func (b *Binder) Query(c *gin.Context, dst any) error {
	query := c.Request.URL.Query()
	return b.bindStrings(dst, "form", func(name string) (string, bool) {
		if v, ok := query[name]; ok && len(v) > 0 {
			return v[0], true
		}
		return "", false
	}, "query parameters failed validation")
}

// Path binds path parameters into dst by its `uri` tags.
func (b *Binder) Path(c *gin.Context, dst any) error {
	return b.bindStrings(dst, "uri", c.Params.Get, "path parameters failed validation")
}

func (b *Binder) check(dst any, detail string) error {
	if n, ok := dst.(normalizer); ok {
		n.normalize()
	}
	err := b.validate.Struct(dst)
	var invalid validator.ValidationErrors
	if err != nil && !errors.As(err, &invalid) {
		return err
	}
	fields := make([]FieldError, len(invalid))
	for i, fe := range invalid {
		fields[i] = FieldError{Field: fe.Field(), Message: ruleMessage(fe)}
	}
	if cc, ok := dst.(crossChecker); ok && len(fields) == 0 {
		fields = cc.crossCheck()
	}
	if len(fields) == 0 {
		return nil
	}
	return &ValidationError{Detail: detail, Errors: fields}
}

// bindStrings fills the struct dst points to from string values looked up
// by each field's tag and validates it, reporting each bad field once:
// unparsable first, then rule-breaking.
func (b *Binder) bindStrings(dst any, tag string, lookup func(string) (string, bool), detail string) error {
	unparsed := mapStrings(reflect.ValueOf(dst).Elem(), tag, lookup)
	err := b.check(dst, detail)
	if len(unparsed) == 0 {
		return err
	}
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		for _, fe := range invalid.Errors {
			if !slices.ContainsFunc(unparsed, func(u FieldError) bool { return u.Field == fe.Field }) {
				unparsed = append(unparsed, fe)
			}
		}
	}
	return &ValidationError{Detail: detail, Errors: unparsed}
}

func mapStrings(v reflect.Value, tag string, lookup func(string) (string, bool)) []FieldError {
	var fields []FieldError
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			fields = append(fields, mapStrings(v.Field(i), tag, lookup)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name == "" {
			continue
		}
		if raw, ok := lookup(name); ok {
			if msg := setString(v.Field(i), raw); msg != "" {
				fields = append(fields, FieldError{Field: name, Message: msg})
			}
		}
	}
	return fields
}

// setString parses raw into field and returns what is wrong with it, if anything.
func setString(field reflect.Value, raw string) string {
	if field.Kind() == reflect.Pointer {
		field.Set(reflect.New(field.Type().Elem()))
		field = field.Elem()
	}
	switch field.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, field.Type().Bits())
		if err != nil {
			return "must be an integer"
		}
		field.SetInt(n)
	case reflect.Bool:
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return "must be true or false"
		}
		field.SetBool(v)
	case reflect.String:
		field.SetString(raw)
	default:
		panic(fmt.Sprintf("bind: unsupported field kind %s", field.Kind()))
	}
	return ""
}

func decodeError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &BadRequestError{Detail: "request body is empty"}
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return &BadRequestError{Detail: "request body is not valid JSON"}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return &ValidationError{
			Detail: "request body failed validation",
			Errors: []FieldError{{Field: typeErr.Field, Message: "must be " + jsonKind(typeErr.Type)}},
		}
	case errors.As(err, &typeErr):
		return &BadRequestError{Detail: "request body must be a JSON object"}
	}
	return err // *http.MaxBytesError and read errors keep their own meaning
}

func jsonKind(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[Timestamp]() {
		return "an RFC 3339 date and time"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "of type " + t.Kind().String()
}

// ruleMessage says in words which rule a field broke.
func ruleMessage(fe validator.FieldError) string {
	isString := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be a valid email address"
	case "min":
		if isString {
			return "must be at least " + fe.Param() + " characters"
		}
		return "must be at least " + fe.Param()
	case "max":
		if isString {
			return "must be at most " + fe.Param() + " characters"
		}
		return "must be at most " + fe.Param()
	case "minbytes":
		return "must be at least " + fe.Param() + " characters" // bytes, but ASCII is what people type
	case "maxbytes":
		return "must be at most " + fe.Param() + " bytes"
	case "offset":
		return "must be between 0 and " + strconv.Itoa(services.MaxOffset) + "; to read further, follow next_cursor (the cursor parameter)"
	case "oneof":
		return "must be one of " + strings.ReplaceAll(fe.Param(), " ", ", ")
	}
	return "is invalid (" + fe.Tag() + ")"
}
