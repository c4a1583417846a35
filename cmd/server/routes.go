package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gin-gonic/gin"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/controllers"
)

func routes(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	// The router is the one serve builds, from the same configuration
	// (DOCS_ENABLED and CORS_ALLOW_ORIGINS change it), on a pool that never
	// connects. Its log (the JWT_SECRET warning) is not this command's output.
	engine, cleanup, err := apitemplate.InitializeRouter(cfg, io.Discard)
	if err != nil {
		return err
	}
	defer cleanup()

	chains, err := handlerChains(engine)
	if err != nil {
		return err
	}
	requireAuth := funcName(reflect.ValueOf(controllers.RequireAuth).Pointer())
	list := engine.Routes()
	slices.SortStableFunc(list, func(a, b gin.RouteInfo) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(methodOrder(a.Method), methodOrder(b.Method)))
	})

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	out := &printer{w: tw}
	out.printf("METHOD\tPATH\tHANDLER\tBEARER\n")
	for _, r := range list {
		chain, ok := chains[r.Method+" "+r.Path]
		if !ok {
			return fmt.Errorf("routes: no handler chain found for %s %s", r.Method, r.Path)
		}
		bearer := "no"
		if slices.Contains(chain, requireAuth) {
			bearer = "yes"
		}
		out.printf("%s\t%s\t%s\t%s\n", r.Method, r.Path, shortName(r.Handler), bearer)
	}
	if out.err == nil {
		out.err = tw.Flush()
	}
	return out.done("routes")
}

var errGinLayout = errors.New("routes: gin's route tree is not laid out as expected (gin upgraded?)")

// handlerChains maps "METHOD path" to the names of all the handlers a route
// runs, middleware first. gin.RouteInfo names only the last one, and whether
// a route needs a token is decided by the middleware before it, which gin
// keeps only in its unexported route trees; so they are read, not changed,
// with reflection, walking them as gin's own Engine.Routes does. The routes
// test (POST /items needs a token, GET /items does not) fails if a gin
// upgrade moves them.
func handlerChains(e *gin.Engine) (map[string][]string, error) {
	trees := reflect.ValueOf(e).Elem().FieldByName("trees")
	if trees.Kind() != reflect.Slice {
		return nil, errGinLayout
	}
	chains := map[string][]string{}
	for i := range trees.Len() {
		tree := trees.Index(i)
		method, root := tree.FieldByName("method"), tree.FieldByName("root")
		if method.Kind() != reflect.String || root.Kind() != reflect.Pointer {
			return nil, errGinLayout
		}
		if err := walkNode(method.String(), "", root, chains); err != nil {
			return nil, err
		}
	}
	return chains, nil
}

func walkNode(method, prefix string, node reflect.Value, chains map[string][]string) error {
	if node.IsNil() {
		return nil
	}
	n := node.Elem()
	path, handlers, children := n.FieldByName("path"), n.FieldByName("handlers"), n.FieldByName("children")
	if path.Kind() != reflect.String || handlers.Kind() != reflect.Slice || children.Kind() != reflect.Slice {
		return errGinLayout
	}
	full := prefix + path.String()
	if handlers.Len() > 0 {
		names := make([]string, handlers.Len())
		for i := range names {
			names[i] = funcName(handlers.Index(i).Pointer())
		}
		chains[method+" "+full] = names
	}
	for i := range children.Len() {
		if err := walkNode(method, full, children.Index(i), chains); err != nil {
			return err
		}
	}
	return nil
}

func funcName(pc uintptr) string {
	if f := runtime.FuncForPC(pc); f != nil {
		return f.Name()
	}
	return ""
}

// shortName drops the module path and the method-value suffix from a
// handler's name: controllers.(*ItemController).Create.
func shortName(name string) string {
	name = strings.TrimSuffix(name, "-fm")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// methodOrder lists a path's routes in the order people read them.
func methodOrder(m string) int {
	if i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m); i >= 0 {
		return i
	}
	return 99
}
