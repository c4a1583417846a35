// Command resource generates a CRUD resource in the style of /items: its
// controller, service, repository, Wire provider set, migration and tests,
// registered in providers/controllers.go, then runs `make generate`.
//
//	go run ./cmd/resource -name product -fields "name:string price_cents:int64 description:text? in_stock:bool"
//
// It refuses, writing nothing, when the resource or any of its names exists
// already. Reads of a generated resource are public; writes need a bearer
// token; there is no owner.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed templates/*.tmpl
var templates embed.FS

func main() {
	name := flag.String("name", "", "the resource, singular: product, ProductCategory, order_line")
	fields := flag.String("fields", "", `space-separated name:type, type one of `+typeNames()+`; a trailing ? makes it optional`)
	regenerate := flag.Bool("generate", true, "run make generate afterwards; false to add several resources, then generate once")
	flag.Parse()
	if err := run(".", *name, *fields, *regenerate, os.Stdout); err != nil {
		// One line, whatever the error: a refusal reads at a glance.
		fmt.Fprintln(os.Stderr, "resource:", strings.ReplaceAll(err.Error(), "\n", "; "))
		os.Exit(1)
	}
}

func run(root, name, fieldSpec string, regenerate bool, out io.Writer) error {
	res, err := newResource(root, name, fieldSpec)
	if err != nil {
		return err
	}
	files, err := res.render()
	if err != nil {
		return err
	}
	if err := res.refuseTaken(files); err != nil {
		return err
	}
	registered, err := res.register()
	if err != nil {
		return err
	}
	if err := writeNew(root, files); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, controllersFile), registered, 0o644); err != nil { //nolint:gosec // source code, readable by all
		return fmt.Errorf("register: %w", err)
	}
	var summary strings.Builder
	for _, f := range files {
		summary.WriteString("created " + f.path + "\n")
	}
	summary.WriteString("registered " + res.Plural.Lower() + " in " + controllersFile + "\n")
	if _, err := io.WriteString(out, summary.String()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if !regenerate {
		return nil
	}
	return generate(root, out)
}

// file is one generated file, relative to the repository root.
type file struct {
	path    string
	content []byte
}

// writeNew creates every file or none: O_EXCL refuses one that appeared
// since the checks, and what was written before a failure is removed.
func writeNew(root string, files []file) (err error) {
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				_ = os.Remove(p)
			}
		}
	}()
	for _, f := range files {
		p := filepath.Join(root, f.path)
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) //nolint:gosec // source code, readable by all
		if err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		written = append(written, p)
		_, err = w.Write(f.content)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// generate runs what `make generate` runs, through make itself, so the two
// cannot drift apart.
func generate(root string, out io.Writer) error {
	cmd := exec.CommandContext(context.Background(), "make", "--no-print-directory", "generate")
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return fmt.Errorf("the files are written but make generate failed (%w): %s", err, msg)
	}
	return nil
}
