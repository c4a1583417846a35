package controllers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files"
	ginSwagger "github.com/swaggo/gin-swagger"

	"github.com/example/apitemplate/docs"
)

// RegisterDocs mounts the API documents and the Swagger UI.
func RegisterDocs(r gin.IRouter) {
	r.GET("/schema", func(c *gin.Context) {
		c.Redirect(http.StatusFound, "/swagger/index.html")
	})
	r.GET("/schema/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", docs.OpenAPI)
	})
	// gin-swagger would render doc.json per request through swag's shared
	// SwaggerInfo, which races; the committed document is served instead.
	ui := ginSwagger.WrapHandler(swaggerFiles.Handler)
	r.GET("/swagger/*any", func(c *gin.Context) {
		if c.Param("any") == "/doc.json" {
			c.Data(http.StatusOK, "application/json; charset=utf-8", docs.Swagger)
			return
		}
		ui(c)
	})
}
