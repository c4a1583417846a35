package controllers

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// IdempotencyKeyHeader makes a POST safe to retry: see services.IdempotencyService.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotencyKey reads the request's key, "" when it has none. A key is 1
// to 255 visible ASCII characters.
func idempotencyKey(c *gin.Context) (string, error) {
	values, ok := c.Request.Header[IdempotencyKeyHeader]
	if !ok {
		return "", nil
	}
	key := values[0]
	if len(values) != 1 || len(key) == 0 || len(key) > 255 || !visibleASCII(key) {
		return "", &ValidationError{Detail: "request headers failed validation", Errors: []FieldError{
			{Field: IdempotencyKeyHeader, Message: "must be 1 to 255 visible ASCII characters, sent once"},
		}}
	}
	return key, nil
}

func visibleASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotent answers with create's answer, or, when the request has an
// Idempotency-Key, with the first answer to that key within scope (the
// route and the caller). The request is told apart from another with the
// same key by its bound body, req, so that the same JSON written otherwise
// is still the same request.
func idempotent(c *gin.Context, idem *services.IdempotencyService, key, scope string, req any, create func(ctx context.Context) (services.Answer, error)) error {
	ctx := c.Request.Context()
	if key == "" {
		a, err := create(ctx)
		if err != nil {
			return err
		}
		writeAnswer(c, a, false)
		return nil
	}
	request, err := json.Marshal(req)
	if err != nil {
		return err
	}
	a, replayed, err := idem.Do(ctx, scope, key, request, create)
	if err != nil {
		return err
	}
	writeAnswer(c, a, replayed)
	return nil
}

// callerScope is an idempotency scope of route for a signed-in caller.
func callerScope(route string, caller services.Caller) string {
	return route + " user " + strconv.FormatInt(caller.UserID, 10)
}

// created is a 201 answer: the resource, where it lives, and its ETag.
func created(location, tag string, body any) (services.Answer, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return services.Answer{}, err
	}
	return services.Answer{Status: 201, Location: location, ETag: tag, Body: b}, nil
}
