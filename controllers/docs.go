package controllers

import (
	"context"
	"io/fs"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files/v2"
	ginSwagger "github.com/swaggo/gin-swagger"
	"golang.org/x/net/webdav"

	"github.com/example/apitemplate/docs"
)

// DocsRoutes are the API documents and the Swagger UI, which shows the
// OpenAPI 3 document.
func DocsRoutes() []Route {
	// swaggo/files v1 copies the whole UI (8 MB) into memory when it is
	// imported; v2 embeds it, and gin-swagger reads it through this adapter.
	ui := ginSwagger.WrapHandler(&webdav.Handler{
		FileSystem: readOnlyFS{http.FS(swaggerFiles.FS)},
		LockSystem: webdav.NewMemLS(),
	}, ginSwagger.URL(OpenAPIPath))
	swaggerUI := func(c *gin.Context) error {
		switch c.Param("any") {
		case "/doc.json":
			// gin-swagger would render it per request through swag's shared
			// SwaggerInfo, which races; the committed document is served instead.
			c.Data(http.StatusOK, "application/json; charset=utf-8", docs.Swagger)
		case "/", "":
			c.Redirect(http.StatusFound, "/swagger/index.html")
		default:
			if !uiFile(c.Param("any")[1:]) {
				NoRoute(c) // a problem, not gin-swagger's plain-text 404
				return nil
			}
			ui(c)
		}
		return nil
	}
	return []Route{
		{http.MethodGet, "/schema", Public, func(c *gin.Context) error {
			c.Redirect(http.StatusFound, "/swagger/index.html")
			return nil
		}},
		{http.MethodGet, OpenAPIPath, Public, func(c *gin.Context) error {
			c.Data(http.StatusOK, "application/json", docs.OpenAPI)
			return nil
		}},
		{http.MethodGet, "/swagger/*any", Public, swaggerUI},
	}
}

// uiFile reports whether the Swagger UI has a file of that name.
func uiFile(name string) bool {
	_, err := fs.Stat(swaggerFiles.FS, name)
	return err == nil
}

// OpenAPIPath serves the OpenAPI 3 document, which the Swagger UI shows.
const OpenAPIPath = "/schema/openapi.json"

// readOnlyFS serves an fs.FS to webdav.Handler, which only reads here.
type readOnlyFS struct {
	files http.FileSystem
}

func (readOnlyFS) Mkdir(context.Context, string, os.FileMode) error { return os.ErrPermission }
func (readOnlyFS) RemoveAll(context.Context, string) error          { return os.ErrPermission }
func (readOnlyFS) Rename(context.Context, string, string) error     { return os.ErrPermission }

func (r readOnlyFS) OpenFile(_ context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag != os.O_RDONLY {
		return nil, os.ErrPermission
	}
	f, err := r.files.Open(name)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

func (r readOnlyFS) Stat(_ context.Context, name string) (os.FileInfo, error) {
	f, err := r.files.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return f.Stat()
}

type readOnlyFile struct {
	http.File
}

func (readOnlyFile) Write([]byte) (int, error) { return 0, os.ErrPermission }
