package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/example/apitemplate/docs"
)

// contract is docs/openapi.json, ready to check exchanges against.
type contract struct {
	router  routers.Router
	problem *openapi3.SchemaRef
}

// loadContract parses and validates the document once per test binary: every
// request of every test is checked against it, and it never changes while
// the tests run.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("docs/openapi.json is not a valid OpenAPI document: %w", err)
	}
	closeResponseSchemas(doc)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.json: %w", err)
	}
	problem := doc.Components.Schemas["Problem"]
	if problem == nil {
		return nil, errors.New("docs/openapi.json has no Problem schema")
	}
	return &contract{router: router, problem: problem}, nil
})

// documentRoute reports the routes the documents leave out: those that
// serve the documents themselves, and /metrics, which answers Prometheus
// text to a scraper rather than JSON to a client.
func documentRoute(path string) bool {
	return path == "/schema" || path == "/schema/openapi.json" || strings.HasPrefix(path, "/swagger/") || path == "/metrics"
}

// checkedHandler serves through the application and fails the test whose
// exchange the documents do not describe, so a test that exercises a status,
// header or field also proves it is documented.
type checkedHandler struct {
	t    testing.TB
	next http.Handler
}

func (h checkedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.t.Helper()
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			h.t.Errorf("apitest: read request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	// The copy is taken before the application sees the request: middleware
	// rewrites headers (X-Request-ID) on the original.
	sent := r.Clone(context.Background())
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)

	if err := checkExchange(sent, body, rec); err != nil {
		h.t.Errorf("apitest: %s %s answered %d, which docs/openapi.json does not describe: %v\nresponse body: %s",
			sent.Method, sent.URL.RequestURI(), rec.Code, err, truncate(rec.Body.Bytes()))
	}

	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func truncate(b []byte) []byte {
	const limit = 512
	if len(b) > limit {
		return append(b[:limit:limit], "..."...)
	}
	return b
}

// checkExchange returns what is wrong with one request and its response
// according to the documents.
func checkExchange(req *http.Request, body []byte, res *httptest.ResponseRecorder) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	if res.Code >= 400 {
		// Whatever the route, an error is a problem document.
		if err := c.checkProblem(res); err != nil {
			return err
		}
	}

	if res.Code == http.StatusMethodNotAllowed {
		// Gin found the path but not the method, so there is no operation
		// to check against; the router's fuzzy match could pick a wrong one.
		if res.Header().Get("Allow") == "" {
			return errors.New("a 405 without an Allow header")
		}
		return nil
	}
	route, pathParams, err := c.router.FindRoute(req)
	for _, v := range pathParams {
		if v == "" {
			// The router lets a template's last segment match nothing
			// ("/users" as "/users/{id}"); Gin does not.
			route, err = nil, routers.ErrPathNotFound
		}
	}
	switch {
	case err == nil:
	case documentRoute(req.URL.Path):
		return nil
	case isPreflight(req) && res.Code == http.StatusNoContent:
		return nil // answered by the CORS middleware, which is not an operation
	case res.Code == http.StatusNotFound:
		return nil // NoRoute: no operation, and checkProblem has seen the body
	case res.Code >= 300 && res.Code < 400 && res.Header().Get("Location") != "":
		return nil // Gin's trailing-slash redirect, to the operation's own path
	default:
		return fmt.Errorf("no documented operation (%w), yet the answer is not a 404 or 405", err)
	}

	options := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    requireAuthorization,
	}
	reqInput := &openapi3filter.RequestValidationInput{
		Request:    withBody(req, body),
		PathParams: pathParams,
		Route:      route,
		Options:    options,
	}
	// Tests send bad requests on purpose, and those are answered with
	// errors; a request the application accepted must be one the documents
	// accept, or the documents are missing something.
	if res.Code < 400 {
		reqInput.Request = withBody(req, trimDeclared(route, body))
		if err := openapi3filter.ValidateRequest(context.Background(), reqInput); err != nil {
			return fmt.Errorf("the request was accepted but does not match the documented request: %w", err)
		}
	}
	reqInput.Request = withBody(req, body)
	resInput := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqInput,
		Status:                 res.Code,
		Header:                 res.Header(),
		Body:                   io.NopCloser(bytes.NewReader(res.Body.Bytes())),
		Options:                options,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), resInput); err != nil {
		return err
	}
	if documented := route.Operation.Responses.Status(res.Code); documented != nil && len(documented.Value.Content) == 0 && res.Body.Len() > 0 {
		return fmt.Errorf("status %d is documented without a body, but has one", res.Code)
	}
	return nil
}

// checkProblem checks an error response against RFC 9457 as the documents
// declare it: application/problem+json, the Problem schema, and a status and
// title that agree with the response's own.
func (c *contract) checkProblem(res *httptest.ResponseRecorder) error {
	mediaType, _, err := mime.ParseMediaType(res.Header().Get("Content-Type"))
	if err != nil || mediaType != "application/problem+json" {
		return fmt.Errorf("error response Content-Type is %q, not application/problem+json", res.Header().Get("Content-Type"))
	}
	var value any
	if err := json.Unmarshal(res.Body.Bytes(), &value); err != nil {
		return fmt.Errorf("error response body is not JSON: %w", err)
	}
	if err := c.problem.Value.VisitJSON(value, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("error response body does not match the Problem schema: %w", err)
	}
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	_ = json.Unmarshal(res.Body.Bytes(), &p) // already known to be JSON of the right shape
	if p.Status != res.Code || p.Title != http.StatusText(res.Code) {
		return fmt.Errorf("problem says status %d %q, but the response is %d %q", p.Status, p.Title, res.Code, http.StatusText(res.Code))
	}
	return nil
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// requireAuthorization stands in for the bearer check: a protected operation
// that succeeded without a token means the documents claim a protection the
// route does not have.
func requireAuthorization(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, _, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return errors.New("no bearer token was sent")
	}
	return nil
}

// withBody is a fresh copy of r for one validation, which reads the body.
func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(body))
	return c
}

// trimDeclared trims the body's string properties that the document marks
// x-trimmed: the server trims them before their length rules apply, which
// JSON Schema cannot say.
func trimDeclared(route *routers.Route, body []byte) []byte {
	rb := route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return body
	}
	media := rb.Value.Content.Get("application/json")
	if media == nil || media.Schema == nil || media.Schema.Value == nil {
		return body
	}
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil {
		return body
	}
	for name, prop := range media.Schema.Value.Properties {
		if v, ok := obj[name].(string); ok && prop.Value != nil && prop.Value.Extensions["x-trimmed"] == true {
			obj[name] = strings.TrimSpace(v)
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}

// closeResponseSchemas forbids, in tests only, members that a response-only
// schema does not list: a field the document does not know of (a password
// hash, say) fails the test that received it. The published document stays
// open, so clients keep working when fields are added. Schemas that requests
// use stay open too: the server ignores unknown request fields.
func closeResponseSchemas(doc *openapi3.T) {
	inRequests, inResponses := map[*openapi3.Schema]bool{}, map[*openapi3.Schema]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, media := range op.RequestBody.Value.Content {
					collectSchemas(media.Schema, inRequests)
				}
			}
			for _, res := range op.Responses.Map() {
				if res.Value != nil {
					for _, media := range res.Value.Content {
						collectSchemas(media.Schema, inResponses)
					}
				}
			}
		}
	}
	closed := false
	for schema := range inResponses {
		if !inRequests[schema] && schema.Type.Is(openapi3.TypeObject) {
			schema.AdditionalProperties = openapi3.AdditionalProperties{Has: &closed}
		}
	}
}

func collectSchemas(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	seen[ref.Value] = true
	for _, prop := range ref.Value.Properties {
		collectSchemas(prop, seen)
	}
	collectSchemas(ref.Value.Items, seen)
}
