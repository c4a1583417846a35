// Package extensions_test shows that the template stays whole when a team
// makes it its own: in a copy of the repository without lab/, it renames
// the module, generates two resources, and then runs what the service's CI
// runs. That proves three things at once: the service builds, vets and
// passes `make test` with lab/ deleted; generated resources keep the whole
// suite green; and so does a rename. `make -C lab test-extensions` runs it.
package extensions_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/example/apitemplate/internal/repocopy"
)

// root is the repository: the module above lab/.
const root = "../.."

// step runs one command in dir, with the test's environment, and fails the
// test at once, showing its output, when it fails.
func step(t *testing.T, dir string, timeout time.Duration, name string, args ...string) {
	t.Helper()
	if err := check(t, dir, timeout, name, args...); err != nil {
		t.FailNow()
	}
}

// check is step for a check the later ones do not depend on: it marks the
// test failed, shows the output and lets the test go on to them.
func check(t *testing.T, dir string, timeout time.Duration, name string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// No go.work above the temp dir may pull in another module, and a
	// developer's GOFLAGS must not change what is run. git (make lint and
	// make check-generated use it) never looks for a repository above the
	// copy.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	line := strings.Join(append([]string{name}, args...), " ")
	if err != nil {
		t.Errorf("%s failed after %v (%v):\n%s", line, time.Since(began).Round(time.Millisecond), err, out.String())
		return err
	}
	t.Logf("%s: ok in %v", line, time.Since(began).Round(time.Millisecond))
	return nil
}

// commit records the copy's state, so that make lint (which formats the
// files git knows) sees every generated file, and make check-generated
// (which diffs against the last commit) has something to diff against.
func commit(t *testing.T, dir, message string) {
	t.Helper()
	step(t, dir, time.Minute, "git", "add", "-A")
	step(t, dir, time.Minute, "git", "-c", "user.name=lab", "-c", "user.email=lab@example.com",
		"commit", "-q", "--no-gpg-sign", "-m", message)
}

// productFields is every field type there is, required and optional.
const productFields = "name:string nickname:string? description:text notes:text? " +
	"quantity:int shelf:int? price_cents:int64 weight_grams:int64? " +
	"rating:float64 discount:float64? in_stock:bool featured:bool? " +
	"released_at:time discontinued_at:time?"

func TestExtensionsKeepTheSuiteGreen(t *testing.T) {
	began := time.Now()
	// lab/ is left out: the copy is the service a team keeps once lab/ is
	// deleted.
	dir := repocopy.Copy(t, root, "lab")
	step(t, dir, time.Minute, "git", "init", "-q")
	if _, err := os.Stat(filepath.Join(dir, ".git", "HEAD")); err != nil {
		t.Fatalf("git init made no repository in the copy: %v", err)
	}
	commit(t, dir, "the template, without lab/")

	step(t, dir, 5*time.Minute, "make", "rename", "MODULE=github.com/acme/shop")
	for _, f := range []string{"go.mod", "wire_gen.go", "cmd/server/main.go"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("github.com/example/apitemplate")) {
			t.Errorf("%s still names github.com/example/apitemplate after the rename", f)
		}
	}
	commit(t, dir, "rename the module")

	step(t, dir, 5*time.Minute, "make", "resource", "NAME=product", "FIELDS="+productFields)
	step(t, dir, 5*time.Minute, "make", "resource", "NAME=warehouse_bin", "FIELDS=label:string capacity:int?")
	commit(t, dir, "two generated resources")

	// Each of these checks the same tree, and none needs another to pass:
	// a failure of one still lets the others show what they find.
	step(t, dir, 5*time.Minute, "go", "build", "./...")
	_ = check(t, dir, 5*time.Minute, "go", "vet", "./...")
	_ = check(t, dir, 5*time.Minute, "make", "check-generated")
	_ = check(t, dir, 10*time.Minute, "make", "test")
	_ = check(t, dir, 10*time.Minute, "make", "lint")
	if t.Failed() {
		return
	}
	t.Logf("renamed, extended by two resources, built, vetted, regenerated, tested and linted in %v", time.Since(began).Round(time.Millisecond))
}
