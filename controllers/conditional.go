package controllers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate/services"
)

// A resource's ETag is made from its id and its version, which goes up
// with every change and lives in the database: it changes whenever the
// resource does and is the same on every replica. It is strong: two
// answers with one tag are the same, byte for byte.
func etag(id, version int64) string {
	return `"` + strconv.FormatInt(id, 10) + "-" + strconv.FormatInt(version, 10) + `"`
}

// entityTags splits an If-Match or If-None-Match value into its tags.
func entityTags(header string) []string {
	var tags []string
	for t := range strings.SplitSeq(header, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// notModified answers 304 when If-None-Match names the current tag (or is
// *), and reports whether it did. If-None-Match compares weakly: W/ tags
// match their strong selves.
func notModified(c *gin.Context, current string) bool {
	for _, t := range entityTags(c.GetHeader("If-None-Match")) {
		if t == "*" || strings.TrimPrefix(t, "W/") == current {
			c.Header("ETag", current)
			c.Status(http.StatusNotModified)
			return true
		}
	}
	return false
}

// ifMatch reads If-Match for the resource id: nil when there is none or it
// is *, which any existing resource matches; otherwise the versions it
// names, compared strongly (a weak tag, or one of another resource, names
// none), so that a write applies only if the resource is still at one.
func ifMatch(c *gin.Context, id int64) services.Versions {
	header, ok := c.Request.Header["If-Match"]
	if !ok {
		return nil
	}
	versions := services.Versions{}
	prefix := `"` + strconv.FormatInt(id, 10) + "-"
	for _, t := range entityTags(strings.Join(header, ",")) {
		if t == "*" {
			return nil
		}
		rest, ok := strings.CutPrefix(t, prefix)
		if !ok || !strings.HasSuffix(rest, `"`) {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSuffix(rest, `"`), 10, 64); err == nil {
			versions = append(versions, v)
		}
	}
	return versions
}

// writeResource sends one user or item with its ETag.
func writeResource(c *gin.Context, status int, tag string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	writeAnswer(c, services.Answer{Status: status, ETag: tag, Body: b}, false)
	return nil
}

// writeAnswer sends an answer, as it was first made or as it is replayed.
func writeAnswer(c *gin.Context, a services.Answer, replayed bool) {
	if a.Location != "" {
		c.Header("Location", a.Location)
	}
	if a.ETag != "" {
		c.Header("ETag", a.ETag)
	}
	if replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(a.Status, "application/json; charset=utf-8", a.Body)
}
