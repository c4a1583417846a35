// Command server runs the API, and the tools that work on the same
// configuration: routes, schema and migrate (see cli.go).
//
//	@title						API template
//	@version					1.0
//	@description				Users and items: a Gin + Wire + sqlx template. Errors are RFC 9457 problem details (application/problem+json).
//	@BasePath					/
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer " followed by a token from POST /auth/login.
package main

import "os"

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}
