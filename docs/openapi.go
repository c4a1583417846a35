package docs

import _ "embed"

// OpenAPI is the OpenAPI 3 document, converted from swagger.json by
// cmd/openapi at generate time.
//
//go:embed openapi.json
var OpenAPI []byte
