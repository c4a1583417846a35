// Command openapi converts the Swagger 2.0 document that swag writes into the
// OpenAPI 3 document served at /schema/openapi.json. It runs at generate time
// (make generate), never in the server.
//
// Swagger 2.0 cannot say two things this API does, so the conversion adds
// them: the bearer scheme becomes `type: http, scheme: bearer`, and error
// responses are declared as application/problem+json.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"

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
			ref.Value.Description = s.Description
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
