package docs

import _ "embed"

// OpenAPI is the OpenAPI 3 document, converted from swagger.json by
// cmd/openapi at generate time.
//
//go:embed openapi.json
var OpenAPI []byte

// Swagger is swag's Swagger 2.0 document. It is served from these bytes
// rather than rendered per request by SwaggerInfo.ReadDoc, which writes to
// shared state and races under concurrent requests.
//
//go:embed swagger.json
var Swagger []byte
