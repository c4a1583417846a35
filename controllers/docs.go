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
	r.GET("/swagger/*any", ginSwagger.WrapHandler(swaggerFiles.Handler))
}
