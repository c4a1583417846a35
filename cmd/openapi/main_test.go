package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// A small Swagger 2.0 document in the shape swag writes.
const swagger = `{
  "swagger": "2.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/things": {
      "post": {
        "operationId": "createThing",
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "parameters": [{"in": "body", "name": "body", "required": true, "schema": {"$ref": "#/definitions/NewThing"}}],
        "responses": {
          "201": {"description": "Created", "schema": {"$ref": "#/definitions/Thing"},
                  "headers": {"Location": {"type": "string"}}},
          "400": {"description": "Bad Request", "schema": {"$ref": "#/definitions/Problem"}},
          "401": {"description": "Unauthorized", "schema": {"$ref": "#/definitions/Problem"}}
        },
        "security": [{"BearerAuth": []}]
      },
      "get": {
        "operationId": "listThings",
        "produces": ["application/json"],
        "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Thing"}}}
      }
    }
  },
  "definitions": {
    "NewThing": {"type": "object", "required": ["name"], "properties": {
      "name": {"type": "string"}, "note": {"type": "string"}}},
    "Thing": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    "Problem": {"type": "object", "properties": {
      "status": {"type": "integer"},
      "errors": {"type": "array", "items": {"type": "string"}, "x-optional": true}}}
  },
  "securityDefinitions": {"BearerAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}}
}`

func TestConvert(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "swagger.json"), filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(in, []byte(swagger), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := convert(in, out); err != nil {
		t.Fatalf("convert: %v", err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc openapi3.T
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	create := doc.Paths.Value("/things").Post
	list := doc.Paths.Value("/things").Get

	if s := doc.Components.SecuritySchemes["BearerAuth"].Value; s.Type != "http" || s.Scheme != "bearer" || s.BearerFormat != "JWT" {
		t.Errorf("security scheme = %+v, want http bearer JWT", s)
	}
	if list.Security == nil || len(*list.Security) != 0 {
		t.Errorf("public operation security = %v, want an explicit []", list.Security)
	}
	for _, code := range []int{400, 401} {
		content := create.Responses.Status(code).Value.Content
		if content.Get("application/problem+json") == nil || content["application/json"] != nil {
			t.Errorf("%d content types = %v, want only application/problem+json", code, content)
		}
	}
	if h := create.Responses.Status(401).Value.Headers["WWW-Authenticate"]; h == nil || !h.Value.Required {
		t.Errorf("protected 401 has no required WWW-Authenticate header")
	}
	if h := create.Responses.Status(201).Value.Headers["Location"]; h == nil || !h.Value.Required {
		t.Errorf("the documented Location header is not required")
	}
	for _, code := range []int{201, 400, 401} {
		if h := create.Responses.Status(code).Value.Headers[requestIDHeader]; h == nil || h.Ref != "#/components/headers/"+requestIDHeader {
			t.Errorf("%d has no X-Request-ID header reference", code)
		}
	}
	newThing := doc.Components.Schemas["NewThing"].Value
	if newThing.Properties["name"].Value.Nullable || !newThing.Properties["note"].Value.Nullable {
		t.Errorf("nullable: name %v note %v, want only the optional note",
			newThing.Properties["name"].Value.Nullable, newThing.Properties["note"].Value.Nullable)
	}
	if got := doc.Components.Schemas["Thing"].Value.Required; !slices.Equal(got, []string{"id", "name"}) {
		t.Errorf("Thing required = %v, want every property", got)
	}
	if got := doc.Components.Schemas["Problem"].Value.Required; !slices.Equal(got, []string{"status"}) {
		t.Errorf("Problem required = %v, want all but the x-optional errors", got)
	}
	if got := newThing.Required; !slices.Equal(got, []string{"name"}) {
		t.Errorf("request schema required = %v, want it untouched", got)
	}
}
