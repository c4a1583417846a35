package controllers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/docs"
	"github.com/example/apitemplate/internal/apitest"
)

// undocumentedRoutes are the routes that serve the documents themselves,
// and /metrics (Prometheus text for a scraper, not JSON); they are the only
// ones the documents may leave out.
var undocumentedRoutes = []string{
	"GET /metrics",
	"GET /schema",
	"GET /schema/openapi.json",
	"GET /swagger/*any",
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// apiDocument is what both document versions share: paths of operations.
type apiDocument struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

// operation is the part of an operation (OpenAPI 3 or Swagger 2) the tests read.
type operation struct {
	Parameters []docParameter `json:"parameters"`
	Responses  map[string]struct {
		Content map[string]json.RawMessage `json:"content"` // OpenAPI 3
		Schema  json.RawMessage            `json:"schema"`  // Swagger 2
	} `json:"responses"`
	Security []map[string][]string `json:"security"`
}

type docParameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

// operations lists a document's operations as "METHOD /path".
func operations(t *testing.T, name string, raw []byte) map[string]operation {
	t.Helper()
	var doc apiDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", name, err)
	}
	if len(doc.Paths) == 0 {
		t.Fatalf("%s has no paths", name)
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths {
		for key, rawOp := range item {
			if !slices.Contains(httpMethods, key) {
				continue // "parameters", "summary", "$ref"…
			}
			var op operation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatalf("%s %s %s: %v", name, key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return ops
}

func openAPIOperations(t *testing.T) map[string]operation {
	t.Helper()
	return operations(t, "docs/openapi.json", docs.OpenAPI)
}

func swaggerOperations(t *testing.T) map[string]operation {
	t.Helper()
	return operations(t, "the Swagger 2 document", docs.Swagger)
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// registeredRoutes lists the engine's routes as "METHOD /path", with Gin's
// :id written as the documents' {id}, leaving out the documents' own routes.
func registeredRoutes(t *testing.T, api *apitest.API) map[string]string {
	t.Helper()
	engine := api.Engine
	routes := map[string]string{} // documented form -> Gin form
	for _, r := range engine.Routes() {
		ginForm := r.Method + " " + r.Path
		if slices.Contains(undocumentedRoutes, ginForm) {
			continue
		}
		routes[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = ginForm
	}
	if len(routes) == 0 {
		t.Fatal("the engine has no routes")
	}
	return routes
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDocsRoutesMatchDocuments(t *testing.T) {
	api := apitest.New(t)
	routes := registeredRoutes(t, api)

	engine := api.Engine
	for _, ex := range undocumentedRoutes {
		if !slices.ContainsFunc(engine.Routes(), func(r gin.RouteInfo) bool { return r.Method+" "+r.Path == ex }) {
			t.Errorf("excluded route %q is not registered: drop it from the list", ex)
		}
	}

	documents := []struct {
		name string
		ops  map[string]operation
	}{
		{"OpenAPI 3", openAPIOperations(t)},
		{"Swagger 2", swaggerOperations(t)},
	}
	for _, d := range documents {
		t.Run(d.name, func(t *testing.T) {
			for _, route := range sortedKeys(routes) {
				if _, ok := d.ops[route]; !ok {
					t.Errorf("route %s (%s) is not in the %s document", route, routes[route], d.name)
				}
			}
			for _, op := range sortedKeys(d.ops) {
				if _, ok := routes[op]; !ok {
					t.Errorf("the %s document has %s, which is not a registered route", d.name, op)
				}
			}
		})
	}
}

func TestDocsPathParameters(t *testing.T) {
	placeholder := regexp.MustCompile(`\{([^}]+)\}`)
	for name, ops := range map[string]map[string]operation{"OpenAPI 3": openAPIOperations(t), "Swagger 2": swaggerOperations(t)} {
		for _, key := range sortedKeys(ops) {
			op := ops[key]
			for _, m := range placeholder.FindAllStringSubmatch(key, -1) {
				if !slices.ContainsFunc(op.Parameters, func(p docParameter) bool {
					return p.Name == m[1] && p.In == "path" && p.Required
				}) {
					t.Errorf("%s %s: no required path parameter %q", name, key, m[1])
				}
			}
		}
	}
}

func TestDocsProblemResponses(t *testing.T) {
	ops := openAPIOperations(t)
	for _, key := range sortedKeys(ops) {
		for code, res := range ops[key].Responses {
			status, err := strconv.Atoi(code)
			if err != nil || status < 400 {
				continue
			}
			schema, ok := res.Content["application/problem+json"]
			if !ok {
				t.Errorf("%s: response %s is not application/problem+json (has %q)", key, code, sortedKeys(res.Content))
				continue
			}
			if _, ok := res.Content["application/json"]; ok {
				t.Errorf("%s: response %s is also offered as application/json", key, code)
			}
			if !strings.Contains(string(schema), "Problem") {
				t.Errorf("%s: response %s schema is not the Problem: %s", key, code, schema)
			}
		}
	}
	for _, key := range sortedKeys(swaggerOperations(t)) {
		for code, res := range swaggerOperations(t)[key].Responses {
			if status, err := strconv.Atoi(code); err == nil && status >= 400 && !strings.Contains(string(res.Schema), "Problem") {
				t.Errorf("Swagger 2 %s: response %s schema is not the Problem: %s", key, code, res.Schema)
			}
		}
	}
}

// TestDocsContractStatuses checks that each route documents the statuses the
// contract's tables list for it.
func TestDocsContractStatuses(t *testing.T) {
	want := map[string][]string{
		"GET /":                  {"200"},
		"GET /healthz":           {"200"},
		"GET /readyz":            {"200", "503"},
		"POST /auth/login":       {"200", "400", "401", "429"},
		"POST /auth/refresh":     {"200", "400", "401"},
		"POST /auth/logout":      {"204", "400", "401"},
		"POST /users":            {"201", "400", "409", "422"},
		"GET /users":             {"200", "400", "401", "403"},
		"GET /users/me":          {"200", "304", "401"},
		"PUT /users/me/password": {"204", "400", "401", "403", "429"},
		"GET /users/{id}":        {"200", "304", "400", "401", "403", "404"},
		"PUT /users/{id}":        {"200", "400", "401", "403", "409", "412"},
		"PATCH /users/{id}":      {"200", "400", "401", "403", "409", "412", "415"},
		"DELETE /users/{id}":     {"204", "400", "401", "403", "412"},
		"GET /items":             {"200", "400"},
		"GET /items/{id}":        {"200", "304", "400", "404"},
		"POST /items":            {"201", "400", "401", "409", "422"},
		"PUT /items/{id}":        {"200", "400", "401", "403", "404", "412"},
		"PATCH /items/{id}":      {"200", "400", "401", "403", "404", "412", "415"},
		"DELETE /items/{id}":     {"204", "400", "401", "403", "404", "412"},
	}
	for name, ops := range map[string]map[string]operation{"OpenAPI 3": openAPIOperations(t), "Swagger 2": swaggerOperations(t)} {
		for _, key := range sortedKeys(want) {
			op, ok := ops[key]
			if !ok {
				t.Errorf("%s: %s is not documented", name, key)
				continue
			}
			for _, code := range want[key] {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: %s does not document %s (has %q)", name, key, code, sortedKeys(op.Responses))
				}
			}
		}
	}
}

// TestDocsSecurity asks every route without a token: those that answer 401
// must carry a bearer security requirement in both documents, and those that
// carry one must answer 401.
func TestDocsSecurity(t *testing.T) {
	api := apitest.New(t)
	routes := registeredRoutes(t, api)

	var oa struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Type         string `json:"type"`
				Scheme       string `json:"scheme"`
				BearerFormat string `json:"bearerFormat"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(docs.OpenAPI, &oa); err != nil {
		t.Fatal(err)
	}
	var sw struct {
		SecurityDefinitions map[string]struct {
			Type string `json:"type"`
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"securityDefinitions"`
	}
	if err := json.Unmarshal(docs.Swagger, &sw); err != nil {
		t.Fatal(err)
	}
	bearerOA := func(scheme string) bool {
		s, ok := oa.Components.SecuritySchemes[scheme]
		return ok && s.Type == "http" && strings.EqualFold(s.Scheme, "bearer") && s.BearerFormat == "JWT"
	}
	bearerSW := func(scheme string) bool {
		s, ok := sw.SecurityDefinitions[scheme]
		return ok && s.Type == "apiKey" && s.In == "header" && s.Name == "Authorization"
	}
	documents := []struct {
		name   string
		ops    map[string]operation
		bearer func(string) bool
	}{
		{"OpenAPI 3", openAPIOperations(t), bearerOA},
		{"Swagger 2", swaggerOperations(t), bearerSW},
	}

	protected := 0
	for _, route := range sortedKeys(routes) {
		method, path, _ := strings.Cut(route, " ")
		concrete := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "1")
		req := apitest.Request{Method: method, Path: concrete}
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			req.Body = map[string]any{}
		}
		res := api.Do(req)
		needsToken := res.Status == http.StatusUnauthorized
		if needsToken {
			protected++
		}
		for _, d := range documents {
			op, ok := d.ops[route]
			if !ok {
				continue // TestDocsRoutesMatchDocuments reports it
			}
			documented := false
			for _, req := range op.Security {
				for scheme := range req {
					if !d.bearer(scheme) {
						t.Errorf("%s %s: security scheme %q is not the bearer scheme", d.name, route, scheme)
					}
					documented = true
				}
			}
			switch {
			case needsToken && !documented:
				t.Errorf("%s %s answers 401 without a token but documents no security requirement", d.name, route)
			case !needsToken && documented:
				t.Errorf("%s %s documents a security requirement but answers %d without a token", d.name, route, res.Status)
			}
			if documented {
				if _, ok := op.Responses["401"]; !ok {
					t.Errorf("%s %s is protected but does not document 401", d.name, route)
				}
			}
		}
	}
	if protected == 0 {
		t.Error("no route answered 401 without a token; the probe is broken")
	}
}

// Every integer in the OpenAPI 3 document says its width, so that clients
// generated in any language hold it: Java, Kotlin or C# read a bare
// "integer" as 32 bits, and ids and prices need 64. The ones known to be 64
// bits are checked by name; any other is held to what its bounds allow.
func TestDocsIntegersSayTheirWidth(t *testing.T) {
	var doc any
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	wide := regexp.MustCompile(`(^|/)(id|\w+_id|\w+_cents|total)$`)
	seen := 0
	var walk func(v any, path, name string)
	walk = func(v any, path, name string) {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "integer" {
				seen++
				format, _ := v["format"].(string)
				max, hasMax := v["maximum"].(float64)
				switch {
				case format != "int32" && format != "int64":
					t.Errorf("%s: integer with format %q, want int32 or int64", path, format)
				case wide.MatchString(name) && format != "int64":
					t.Errorf("%s: %s is a 64-bit integer, documented as %s", path, name, format)
				case format == "int32" && (!hasMax || max > 1<<31-1) && !strings.Contains(path, "/headers/"):
					t.Errorf("%s: int32 without a maximum that fits in 32 bits", path)
				}
			}
			// A parameter's schema is named by the parameter.
			if n, ok := v["name"].(string); ok {
				name = n
			}
			for k, child := range v {
				childName := name
				if strings.HasSuffix(path, "/properties") {
					childName = k
				}
				walk(child, path+"/"+k, childName)
			}
		case []any:
			for i, child := range v {
				walk(child, path+"/"+strconv.Itoa(i), name)
			}
		}
	}
	walk(doc, "", "")
	if seen == 0 {
		t.Fatal("no integers found in the document")
	}
}

// TestDocsResponseHeaders checks the response headers the contract names:
// an ETag on every answer that carries one user or item (and on a 304),
// Location on a 201, Retry-After on every 503 and 429; and the request
// headers each conditional or retried route reads.
func TestDocsResponseHeaders(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []docParameter `json:"parameters"`
			Responses  map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	wantHeader := func(key, code, header string) {
		t.Helper()
		method, path, _ := strings.Cut(key, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not documented", key)
			return
		}
		if _, ok := op.Responses[code].Headers[header]; !ok {
			t.Errorf("%s: response %s documents no %s header", key, code, header)
		}
	}
	for _, key := range []string{"GET /users/me", "GET /users/{id}", "PUT /users/{id}", "PATCH /users/{id}",
		"GET /items/{id}", "PUT /items/{id}", "PATCH /items/{id}"} {
		wantHeader(key, "200", "ETag")
	}
	for _, key := range []string{"GET /users/me", "GET /users/{id}", "GET /items/{id}"} {
		wantHeader(key, "304", "ETag")
	}
	for _, key := range []string{"POST /users", "POST /items"} {
		wantHeader(key, "201", "ETag")
		wantHeader(key, "201", "Location")
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			for code := range op.Responses {
				if code == "503" || code == "429" {
					wantHeader(strings.ToUpper(method)+" "+path, code, "Retry-After")
				}
			}
		}
	}
	wantParam := func(key, name string) {
		t.Helper()
		method, path, _ := strings.Cut(key, " ")
		if !slices.ContainsFunc(doc.Paths[path][strings.ToLower(method)].Parameters, func(p docParameter) bool { return p.Name == name && p.In == "header" }) {
			t.Errorf("%s documents no %s header parameter", key, name)
		}
	}
	for _, key := range []string{"PUT /users/{id}", "PATCH /users/{id}", "DELETE /users/{id}", "PUT /items/{id}", "PATCH /items/{id}", "DELETE /items/{id}"} {
		wantParam(key, "If-Match")
	}
	for _, key := range []string{"GET /users/me", "GET /users/{id}", "GET /items/{id}"} {
		wantParam(key, "If-None-Match")
	}
	for _, key := range []string{"POST /users", "POST /items"} {
		wantParam(key, "Idempotency-Key")
	}
}
