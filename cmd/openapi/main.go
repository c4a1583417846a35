// Command openapi converts the Swagger 2.0 document that swag writes into the
// OpenAPI 3 document served at /schema/openapi.json. It runs at generate time
// (make generate), never in the server.
//
// Swagger 2.0 (and swag's annotations) cannot say some things this API does,
// so the conversion adds them: the bearer scheme becomes `type: http, scheme:
// bearer`; error responses are application/problem+json; a protected route's
// 401 carries WWW-Authenticate, and every 503 Retry-After; every response
// carries X-Request-ID; the
// headers a response documents are required; public operations say so with
// an empty security requirement; optional request fields accept null; and
// the fields of response bodies are required, as the server always sends
// them, unless marked x-optional.
// internal/apitest checks every test's exchanges against the result, so a
// rule here that the server does not keep fails the tests.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

func main() {
	in := flag.String("in", "docs/swagger.json", "Swagger 2.0 document to read")
	out := flag.String("out", "docs/openapi.json", "OpenAPI 3 document to write")
	flag.Parse()
	if err := convert(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	raw, err := os.ReadFile(in) //nolint:gosec // a generator reads the file it is told to
	if err != nil {
		return err
	}
	var v2 openapi2.T
	if err := json.Unmarshal(raw, &v2); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	useBearerScheme(v3)
	useProblemJSON(v3)
	markPublicOperations(v3)
	addAuthenticateHeader(v3)
	addRetryAfterHeader(v3)
	requireResponseHeaders(v3)
	addRequestIDHeader(v3)
	acceptNullOptionalFields(v3)
	requireResponseFields(v3)
	if err := v3.Validate(context.Background()); err != nil {
		return fmt.Errorf("converted document is invalid: %w", err)
	}
	doc, err := json.MarshalIndent(v3, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(doc, '\n'), 0o644) //nolint:gosec // a committed document, readable by all
}

func useBearerScheme(doc *openapi3.T) {
	for _, ref := range doc.Components.SecuritySchemes {
		if s := ref.Value; s != nil && s.Type == "apiKey" && s.In == "header" && s.Name == "Authorization" {
			ref.Value = openapi3.NewJWTSecurityScheme()
			// Swagger 2.0's description tells people to type the "Bearer "
			// prefix themselves; with type http, clients add it.
			ref.Value.Description = "The access_token from POST /auth/login."
		}
	}
}

func useProblemJSON(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for code, ref := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil || status < 400 || ref.Value == nil {
					continue
				}
				if media := ref.Value.Content.Get("application/json"); media != nil {
					ref.Value.Content = openapi3.Content{"application/problem+json": media}
				}
			}
		}
	}
}

// markPublicOperations gives operations without a security requirement an
// empty one, so a reader (and the linter) can tell "public" from "forgotten".
func markPublicOperations(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security == nil {
				op.Security = openapi3.NewSecurityRequirements()
			}
		}
	}
}

func protected(op *openapi3.Operation) bool {
	return op.Security != nil && slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) > 0 })
}

// addAuthenticateHeader documents the challenge that the bearer check sends
// with every 401 of a protected route (RFC 9110 requires it).
func addAuthenticateHeader(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			res := op.Responses.Status(401)
			if !protected(op) || res == nil || res.Value == nil {
				continue
			}
			if res.Value.Headers == nil {
				res.Value.Headers = openapi3.Headers{}
			}
			res.Value.Headers["WWW-Authenticate"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
				Description: "The authentication scheme to use: Bearer.",
				Schema:      openapi3.NewStringSchema().WithPattern("^Bearer").NewRef(),
			}}}
		}
	}
}

// addRetryAfterHeader documents the Retry-After that every 503 carries:
// the seconds to wait, whether the database was unreachable or the server
// busy.
func addRetryAfterHeader(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			res := op.Responses.Value("503")
			if res == nil || res.Value == nil {
				continue
			}
			if res.Value.Headers == nil {
				res.Value.Headers = openapi3.Headers{}
			}
			res.Value.Headers["Retry-After"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
				Description: "Seconds to wait before trying again.",
				Schema:      openapi3.NewInt32Schema().WithMin(1).NewRef(),
			}}}
		}
	}
}

// requireResponseHeaders marks every documented response header required:
// Swagger 2.0 has no way to say so, and each one this API documents is always
// sent. swag's header annotation takes no format either: an integer header
// here is a number of seconds (Retry-After), which int32 holds.
func requireResponseHeaders(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				for _, h := range res.Value.Headers {
					if h.Value == nil {
						continue
					}
					h.Value.Required = true
					if s := h.Value.Schema; s != nil && s.Value != nil && s.Value.Type.Is(openapi3.TypeInteger) && s.Value.Format == "" {
						s.Value.Format = "int32"
					}
				}
			}
		}
	}
}

// requestIDHeader is sent with every response, the caller's own when it was
// sane; it is declared once and referenced from each response.
const requestIDHeader = "X-Request-ID"

func addRequestIDHeader(doc *openapi3.T) {
	if doc.Components.Headers == nil {
		doc.Components.Headers = openapi3.Headers{}
	}
	header := &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "The request's id: the caller's X-Request-ID when it was 1 to 128 visible ASCII characters, otherwise a generated one. Logged with the request.",
		Required:    true,
		Schema:      openapi3.NewStringSchema().WithMinLength(1).WithMaxLength(128).NewRef(),
	}}
	doc.Components.Headers[requestIDHeader] = &openapi3.HeaderRef{Value: header}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				if res.Value.Headers == nil {
					res.Value.Headers = openapi3.Headers{}
				}
				res.Value.Headers[requestIDHeader] = &openapi3.HeaderRef{Ref: "#/components/headers/" + requestIDHeader, Value: header}
			}
		}
	}
}

// acceptNullOptionalFields makes the optional properties of request bodies
// nullable: the server decodes JSON null as "absent" (keep the value, or
// use the default), or in a merge patch as "clear", and clients generated
// from the document should be able to send what the server accepts.
func acceptNullOptionalFields(doc *openapi3.T) {
	done := map[*openapi3.Schema]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, media := range op.RequestBody.Value.Content {
				if media.Schema == nil {
					continue
				}
				schema := media.Schema.Value
				if schema == nil && strings.HasPrefix(media.Schema.Ref, schemaPrefix) {
					if ref := doc.Components.Schemas[strings.TrimPrefix(media.Schema.Ref, schemaPrefix)]; ref != nil {
						schema = ref.Value
					}
				}
				if schema == nil || done[schema] {
					continue
				}
				done[schema] = true
				for name, prop := range schema.Properties {
					if prop.Value == nil || prop.Ref != "" {
						continue
					}
					// A merge patch's member that cannot be cleared (tagged
					// patch:"required" in Go) refuses null.
					if _, notNull := prop.Value.Extensions["x-not-null"]; notNull {
						delete(prop.Value.Extensions, "x-not-null")
						continue
					}
					if !slices.Contains(schema.Required, name) {
						prop.Value.Nullable = true
					}
				}
			}
		}
	}
}

const schemaPrefix = "#/components/schemas/"

// requireResponseFields lists every property of a schema that only responses
// use as required, but for those tagged x-optional (omitempty fields), so
// that generated clients need not treat every field as possibly absent.
func requireResponseFields(doc *openapi3.T) {
	inRequests, inResponses := map[string]bool{}, map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, media := range op.RequestBody.Value.Content {
					collectRefs(doc, media.Schema, inRequests)
				}
			}
			for _, res := range op.Responses.Map() {
				if res.Value != nil {
					for _, media := range res.Value.Content {
						collectRefs(doc, media.Schema, inResponses)
					}
				}
			}
		}
	}
	for name := range inResponses {
		schema := doc.Components.Schemas[name].Value
		if inRequests[name] || schema == nil {
			continue
		}
		schema.Required = nil
		for _, prop := range slices.Sorted(maps.Keys(schema.Properties)) {
			if optional, _ := schema.Properties[prop].Value.Extensions["x-optional"].(bool); !optional {
				schema.Required = append(schema.Required, prop)
			}
		}
	}
}

// collectRefs adds the names of the component schemas ref leads to.
func collectRefs(doc *openapi3.T, ref *openapi3.SchemaRef, seen map[string]bool) {
	if ref == nil {
		return
	}
	if name, ok := strings.CutPrefix(ref.Ref, schemaPrefix); ok {
		if seen[name] {
			return
		}
		seen[name] = true
		ref = doc.Components.Schemas[name]
	}
	if ref == nil || ref.Value == nil {
		return
	}
	for _, prop := range ref.Value.Properties {
		collectRefs(doc, prop, seen)
	}
	collectRefs(doc, ref.Value.Items, seen)
}
