// Docker is not needed (and not assumed): instead of building the image, the
// test builds ./cmd/server with the environment and flags of the
// Dockerfile's own build line and checks that the result is a static ELF
// binary, which is what lets it run on distroless/static.
package deploy_test

import (
	"bytes"
	"cmp"
	"context"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/example/apitemplate"
	"github.com/example/apitemplate/app"
	"github.com/example/apitemplate/internal/apitest"
)

// Paths, relative to this package's directory (where go test runs it).
const (
	moduleRoot  = ".."
	dockerfile  = "../Dockerfile"
	composeFile = "../compose.yaml"
	k8sDir      = "k8s"
	goModFile   = "../go.mod"
)

// postgresConnectionBudget is what the API pods and the migration Job may
// open at most: PostgreSQL's default max_connections (100) less its default
// superuser_reserved_connections (3). Raise it with the server's setting, or
// drop the check when a pooler (PgBouncer) sits in front.
const postgresConnectionBudget = 97

// settings returns every environment variable app.Config reads.
func settings() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[app.Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}

// ---- Kubernetes manifests ----

type meta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// manifest is one YAML document of a file under k8s/.
type manifest struct {
	file       string
	node       *yaml.Node
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   meta   `yaml:"metadata"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

type envVar struct {
	Name      string         `yaml:"name"`
	Value     string         `yaml:"value"`
	ValueFrom map[string]any `yaml:"valueFrom"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []envVar `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	SecurityContext *struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type podTemplate struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               *struct {
			RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
			RunAsUser    *int64 `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
	} `yaml:"spec"`
}

type deployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Strategy struct {
			RollingUpdate *struct {
				MaxSurge yaml.Node `yaml:"maxSurge"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type job struct {
	Spec struct {
		Parallelism *int        `yaml:"parallelism"`
		Template    podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type service struct {
	Spec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string    `yaml:"name"`
			Port       int       `yaml:"port"`
			TargetPort yaml.Node `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type hpa struct {
	Spec struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas *int `yaml:"minReplicas"`
		MaxReplicas int  `yaml:"maxReplicas"`
	} `yaml:"spec"`
}

type pdb struct {
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
	} `yaml:"spec"`
}

type kustomization struct {
	Resources []string `yaml:"resources"`
	Images    []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
	} `yaml:"images"`
}

// loadManifests reads every YAML document under k8s/.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	var all []manifest
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%s does not parse: %w", path, err)
			}
			if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
				continue // an empty document, e.g. after a trailing ---
			}
			m := manifest{file: path, node: &n}
			if err := n.Decode(&m); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			all = append(all, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatalf("no manifests found under %s", k8sDir)
	}
	return all
}

// one returns the only manifest of kind, decoded into T.
func one[T any](t *testing.T, all []manifest, kind string) (T, manifest) {
	t.Helper()
	var v T
	var found []manifest
	for _, m := range all {
		if m.Kind == kind {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s under %s, found %d", kind, k8sDir, len(found))
	}
	if err := found[0].node.Decode(&v); err != nil {
		t.Fatalf("%s: decode %s: %v", found[0].file, kind, err)
	}
	return v, found[0]
}

// named returns the manifest of kind and name.
func named(all []manifest, kind, name string) (manifest, bool) {
	for _, m := range all {
		if m.Kind == kind && m.Metadata.Name == name {
			return m, true
		}
	}
	return manifest{}, false
}

func TestManifestsParse(t *testing.T) {
	all := loadManifests(t)
	for _, m := range all {
		if m.APIVersion == "" || m.Kind == "" {
			t.Errorf("%s: a document lacks apiVersion or kind", m.file)
		}
		if m.Kind != "Kustomization" && m.Metadata.Name == "" {
			t.Errorf("%s: %s lacks metadata.name", m.file, m.Kind)
		}
	}

	// Each kustomization lists every manifest of its directory and only
	// files that exist; all of them set the same image.
	var images []string
	listed := map[string]bool{}
	for _, m := range all {
		if m.Kind != "Kustomization" {
			continue
		}
		var k kustomization
		if err := m.node.Decode(&k); err != nil {
			t.Fatalf("%s: %v", m.file, err)
		}
		dir := filepath.Dir(m.file)
		for _, r := range k.Resources {
			path := filepath.Join(dir, r)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s lists %s, which does not exist", m.file, r)
			}
			listed[path] = true
		}
		b, _ := json.Marshal(k.Images)
		images = append(images, m.file+": "+string(b))
	}
	for _, m := range all {
		if m.Kind != "Kustomization" && !listed[m.file] {
			t.Errorf("%s is in no kustomization.yaml: add it to the resources of the one in its directory", m.file)
		}
	}
	for i := 1; i < len(images); i++ {
		img := images[i]
		_, a, _ := strings.Cut(images[0], ": ")
		if _, b, _ := strings.Cut(img, ": "); a != b {
			t.Errorf("the kustomizations set different images, so the migration Job would not run the release's image:\n  %s\n  %s", images[0], img)
		}
	}
}

// workload is a container that runs the server: the Deployment's, the Job's.
type workload struct {
	name string // for messages: "Deployment apitemplate"
	file string
	pod  podTemplate
	c    container
}

func workloads(t *testing.T, all []manifest) []workload {
	t.Helper()
	d, dm := one[deployment](t, all, "Deployment")
	j, jm := one[job](t, all, "Job")
	var ws []workload
	for _, x := range []struct {
		m   manifest
		pod podTemplate
	}{{dm, d.Spec.Template}, {jm, j.Spec.Template}} {
		if len(x.pod.Spec.Containers) != 1 {
			t.Fatalf("%s: want one container in %s %s, found %d", x.m.file, x.m.Kind, x.m.Metadata.Name, len(x.pod.Spec.Containers))
		}
		ws = append(ws, workload{x.m.Kind + " " + x.m.Metadata.Name, x.m.file, x.pod, x.pod.Spec.Containers[0]})
	}
	return ws
}

// environment returns the variables w's container gets, from its envFrom
// ConfigMaps and Secrets and its env, as Kubernetes resolves them (later
// wins), with where each came from.
func (w workload) environment(t *testing.T, all []manifest) (vars, from map[string]string) {
	t.Helper()
	vars, from = map[string]string{}, map[string]string{}
	for _, ef := range w.c.EnvFrom {
		var m manifest
		var ok bool
		switch {
		case ef.ConfigMapRef != nil:
			m, ok = named(all, "ConfigMap", ef.ConfigMapRef.Name)
			if !ok {
				t.Fatalf("%s: %s takes envFrom ConfigMap %q, which no manifest under %s defines", w.file, w.name, ef.ConfigMapRef.Name, k8sDir)
			}
		case ef.SecretRef != nil:
			m, ok = named(all, "Secret", ef.SecretRef.Name)
			if !ok {
				t.Fatalf("%s: %s takes envFrom Secret %q, which no manifest under %s defines", w.file, w.name, ef.SecretRef.Name, k8sDir)
			}
		default:
			continue
		}
		for k, v := range data(t, m) {
			vars[k], from[k] = v, m.file
		}
	}
	for _, e := range w.c.Env {
		vars[e.Name], from[e.Name] = e.Value, w.file
	}
	return vars, from
}

// data returns a ConfigMap's data or a Secret's data and stringData.
func data(t *testing.T, m manifest) map[string]string {
	t.Helper()
	var v struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	if err := m.node.Decode(&v); err != nil {
		t.Fatalf("%s: %v (every value must be a string: quote numbers and booleans)", m.file, err)
	}
	// Kubernetes takes only strings there; YAML reads true or 8 otherwise.
	root := m.node.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if f := root.Content[i].Value; f == "data" || f == "stringData" {
			kv := root.Content[i+1].Content
			for j := 0; j+1 < len(kv); j += 2 {
				if kv[j+1].Tag != "!!str" {
					t.Errorf("%s: %s.%s is %s, not a string: quote it (%q)", m.file, f, kv[j].Value, kv[j+1].Tag, kv[j+1].Value)
				}
			}
		}
	}
	out := map[string]string{}
	for k, s := range v.Data {
		if m.Kind == "Secret" {
			b, err := decodeBase64(s)
			if err != nil {
				t.Fatalf("%s: data.%s is not base64 (use stringData for plain text): %v", m.file, k, err)
			}
			s = b
		}
		out[k] = s
	}
	maps.Copy(out, v.StringData)
	return out
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// config parses vars as the server does (app.LoadConfig's parser) and
// validates the result.
func config(vars map[string]string) (app.Config, error) {
	cfg, err := env.ParseAsWithOptions[app.Config](env.Options{Environment: vars})
	if err != nil {
		return app.Config{}, err
	}
	return cfg, cfg.Validate()
}

// ---- compose.yaml ----

type composeService struct {
	Build       any       `yaml:"build"`
	Image       string    `yaml:"image"`
	Environment yaml.Node `yaml:"environment"`
	Ports       []string  `yaml:"ports"`
	Command     yaml.Node `yaml:"command"`
	Entrypoint  yaml.Node `yaml:"entrypoint"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// composeServer returns the compose services that run this image (build: .)
// and their environment, interpolated as `docker compose up` does with
// nothing set in the shell: every ${VAR:-default} is its default.
func composeServer(t *testing.T) map[string]composeService {
	t.Helper()
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(interpolate(string(raw))), &c); err != nil {
		t.Fatalf("%s does not parse: %v", composeFile, err)
	}
	ours := map[string]composeService{}
	for name, s := range c.Services {
		ctx := s.Build
		if m, ok := s.Build.(map[string]any); ok {
			ctx = m["context"]
		}
		if ctx == "." || ctx == "./" {
			ours[name] = s
		}
	}
	if len(ours) == 0 {
		t.Fatalf("%s has no service with build: . (the server)", composeFile)
	}
	return ours
}

var composeVar = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate substitutes compose variables as if none were set.
func interpolate(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := composeVar.FindStringSubmatch(m)
		if op := sub[2]; op == ":-" || op == "-" {
			return sub[3]
		}
		return ""
	})
}

// composeEnv reads environment: as a map or as a list of NAME=value.
func composeEnv(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	vars := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		if err := n.Decode(&vars); err != nil {
			t.Fatalf("%s: environment: %v", composeFile, err)
		}
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			t.Fatalf("%s: environment: %v", composeFile, err)
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	default:
		t.Fatalf("%s: environment must be a map or a list", composeFile)
	}
	return vars
}

// words reads a compose command or entrypoint: a list, or a string split on
// blanks.
func words(t *testing.T, n yaml.Node) ([]string, bool) {
	t.Helper()
	switch n.Kind {
	case 0:
		return nil, false
	case yaml.ScalarNode:
		return strings.Fields(n.Value), true
	default:
		var list []string
		if err := n.Decode(&list); err != nil {
			t.Fatalf("%s: %v", composeFile, err)
		}
		return list, true
	}
}

// ---- Dockerfile ----

type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

type stage struct {
	name, image string
	ins         []instruction
}

// parseDockerfile splits the Dockerfile into stages of instructions,
// joining lines continued with a backslash and dropping comments.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	raw, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue // comments, also inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{start, strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			st := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			t.Fatalf("%s:%d: %s before the first FROM", dockerfile, in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if len(stages) < 2 {
		t.Fatalf("%s: want a multi-stage build (a build stage and a final one), found %d stage(s)", dockerfile, len(stages))
	}
	return stages
}

// execForm reads ENTRYPOINT or CMD, which must be in exec (JSON) form: the
// final image has no shell.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("%s:%d: %s must be in exec form, [\"...\"]: the final image has no /bin/sh", dockerfile, in.line, in.cmd)
	}
	return argv
}

// shellWords splits a RUN line as sh would for simple words: blanks
// separate, quotes group, a backslash escapes.
func shellWords(s string) ([]string, error) {
	var out []string
	var w strings.Builder
	inWord := false
	var quote rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]) {
				i++
				w.WriteRune(rs[i])
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			w.WriteRune(rs[i])
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		case strings.ContainsRune(";&|<>()$`", r):
			return nil, fmt.Errorf("the build line uses %q: keep it one plain command (VAR=value ... go build ...)", r)
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		out = append(out, w.String())
	}
	return out, nil
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// dockerBuild is what the Dockerfile's build stage runs to make the binary.
type dockerBuild struct {
	line   int
	env    []string // ENV of the stage, then the RUN line's own VAR=value
	args   []string // after "go build"
	output string   // -o
}

func parseBuild(t *testing.T, st stage) dockerBuild {
	t.Helper()
	var b dockerBuild
	found := 0
	for _, in := range st.ins {
		switch in.cmd {
		case "ENV":
			w, err := shellWordsEnv(in.args)
			if err != nil {
				t.Fatalf("%s:%d: ENV: %v", dockerfile, in.line, err)
			}
			b.env = append(b.env, w...)
		case "RUN":
			if !strings.Contains(in.args, "go build") {
				continue
			}
			found++
			w, err := shellWords(in.args)
			if err != nil {
				t.Fatalf("%s:%d: %v", dockerfile, in.line, err)
			}
			for len(w) > 0 && strings.HasPrefix(w[0], "--") { // --mount=...
				w = w[1:]
			}
			for len(w) > 0 && assignment.MatchString(w[0]) {
				b.env = append(b.env, w[0])
				w = w[1:]
			}
			if len(w) < 2 || w[0] != "go" || w[1] != "build" {
				t.Fatalf("%s:%d: the build line must be [VAR=value ...] go build ...; found %q", dockerfile, in.line, in.args)
			}
			b.line, b.args = in.line, w[2:]
		}
	}
	if found != 1 {
		t.Fatalf("%s: want one RUN ... go build in stage %q, found %d", dockerfile, st.name, found)
	}
	for i, a := range b.args {
		if v, ok := strings.CutPrefix(a, "-o="); ok {
			b.output = v
		} else if a == "-o" && i+1 < len(b.args) {
			b.output = b.args[i+1]
		}
	}
	if b.output == "" {
		t.Fatalf("%s:%d: go build needs -o PATH, the file the final stage copies", dockerfile, b.line)
	}
	return b
}

// shellWordsEnv reads ENV K=V [K=V ...] or the legacy ENV K V.
func shellWordsEnv(s string) ([]string, error) {
	w, err := shellWords(s)
	if err != nil {
		return nil, err
	}
	if len(w) >= 2 && !strings.Contains(w[0], "=") {
		return []string{w[0] + "=" + strings.Join(w[1:], " ")}, nil
	}
	return w, nil
}

// withOutput returns args with the -o path replaced by out.
func (b dockerBuild) withOutput(out string) []string {
	args := slices.Clone(b.args)
	for i, a := range args {
		if strings.HasPrefix(a, "-o=") {
			args[i] = "-o=" + out
		} else if a == "-o" {
			args[i+1] = out
		}
	}
	return args
}

// finalImage is what the Dockerfile's last stage says about the image.
type finalImage struct {
	stage
	user       string
	entrypoint []string
	cmd        []string
	expose     []int
	copied     map[string]string // destination -> source, for COPY --from
}

func parseFinal(t *testing.T, st stage) finalImage {
	t.Helper()
	f := finalImage{stage: st, copied: map[string]string{}}
	for _, in := range st.ins {
		switch in.cmd {
		case "USER":
			f.user = in.args
		case "ENTRYPOINT":
			f.entrypoint = execForm(t, in)
		case "CMD":
			f.cmd = execForm(t, in)
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				if err != nil {
					t.Fatalf("%s:%d: EXPOSE %s: want a TCP port number", dockerfile, in.line, p)
				}
				f.expose = append(f.expose, n)
			}
		case "COPY":
			w := strings.Fields(in.args)
			if len(w) == 3 && strings.HasPrefix(w[0], "--from=") {
				f.copied[w[2]] = w[1]
			}
		}
	}
	return f
}

// uid returns the numeric user of the final stage.
func (f finalImage) uid(t *testing.T) int64 {
	t.Helper()
	user, _, _ := strings.Cut(f.user, ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil || f.user == "" {
		t.Fatalf("%s: the final stage needs USER UID:GID with numbers (e.g. 65532:65532), so runAsNonRoot can verify it; found USER %q", dockerfile, f.user)
	}
	if uid == 0 {
		t.Fatalf("%s: the final stage runs as root (USER %s): use a non-root UID such as 65532", dockerfile, f.user)
	}
	return uid
}

// port returns the port of a listen address such as ":8080".
func port(t *testing.T, setting, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("%s=%q is not HOST:PORT with a numeric port", setting, addr)
	}
	return n
}

// ---- the tests ----

func TestEnvironmentVariablesAreSettings(t *testing.T) {
	known := settings()
	all := loadManifests(t)
	type source struct {
		where string
		names []string
	}
	var sources []source
	for _, m := range all {
		if m.Kind == "ConfigMap" || m.Kind == "Secret" {
			sources = append(sources, source{m.file + " (" + m.Kind + " " + m.Metadata.Name + ")", slices.Collect(maps.Keys(data(t, m)))})
		}
	}
	for _, w := range workloads(t, all) {
		var names []string
		for _, e := range w.c.Env {
			names = append(names, e.Name)
		}
		sources = append(sources, source{w.file + " (" + w.name + " env)", names})
	}
	for name, s := range composeServer(t) {
		sources = append(sources, source{composeFile + " (service " + name + ")", slices.Collect(maps.Keys(composeEnv(t, s.Environment)))})
	}
	for _, s := range sources {
		t.Run(s.where, func(t *testing.T) {
			slices.Sort(s.names)
			for _, n := range s.names {
				if !known[n] {
					t.Errorf("%s sets %s, which is no setting of the server (no env:%q tag on app.Config): fix the name or remove it", s.where, n, n)
				}
			}
		})
	}
}

func TestConfigPassesProductionChecks(t *testing.T) {
	all := loadManifests(t)
	for _, w := range workloads(t, all) {
		t.Run(w.name, func(t *testing.T) {
			vars, from := w.environment(t, all)
			cfg, err := config(vars)
			if err != nil {
				t.Fatalf("the server would refuse to start with the settings %s gets from its ConfigMap, Secret and env: %v", w.name, err)
			}
			if !cfg.Production() {
				t.Errorf("%s runs with APP_ENV=%q: set APP_ENV: production in the ConfigMap, so the production checks apply", w.name, cfg.Env)
			}
			if len(vars["JWT_SECRET"]) < app.MinJWTSecretBytes {
				t.Errorf("%s gets no JWT_SECRET of at least %d bytes from its Secret", w.name, app.MinJWTSecretBytes)
			}
			if _, err := pgx.ParseConfig(cfg.DatabaseURL); err != nil {
				t.Errorf("DATABASE_URL in %s does not parse: %v", from["DATABASE_URL"], err)
			}
		})
	}
	for name, s := range composeServer(t) {
		t.Run(composeFile+" "+name, func(t *testing.T) {
			if _, err := config(composeEnv(t, s.Environment)); err != nil {
				t.Errorf("with nothing set in the shell, `docker compose up` would start service %s with settings the server refuses: %v (fix the ${VAR:-default} defaults in %s)", name, err, composeFile)
			}
		})
	}
}

// deploymentConfig is the configuration the Deployment's pods run with.
func deploymentConfig(t *testing.T, all []manifest) (app.Config, workload) {
	t.Helper()
	w := workloads(t, all)[0]
	vars, _ := w.environment(t, all)
	cfg, err := config(vars)
	if err != nil {
		t.Fatalf("%s: %v (see TestConfigPassesProductionChecks)", w.name, err)
	}
	return cfg, w
}

func TestProbesAreRoutes(t *testing.T) {
	all := loadManifests(t)
	cfg, w := deploymentConfig(t, all)

	get := getRoutes(t, cfg)

	httpPort := port(t, "HTTP_ADDR", cfg.HTTPAddr)
	tests := []struct {
		probe    string
		p        *probe
		want     string // "" when any GET route will do
		required bool
	}{
		{"livenessProbe", w.c.LivenessProbe, "/healthz", true},
		{"readinessProbe", w.c.ReadinessProbe, "/readyz", true},
		{"startupProbe", w.c.StartupProbe, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.probe, func(t *testing.T) {
			if tt.p == nil {
				if tt.required {
					t.Fatalf("%s: %s has no %s: add an httpGet on %s", w.file, w.name, tt.probe, tt.want)
				}
				return
			}
			if tt.p.HTTPGet == nil {
				t.Fatalf("%s: %s's %s must be an httpGet", w.file, w.name, tt.probe)
			}
			path := tt.p.HTTPGet.Path
			if tt.want != "" && path != tt.want {
				t.Errorf("%s: %s's %s gets %s; want %s", w.file, w.name, tt.probe, path, tt.want)
			}
			if !get[path] {
				t.Errorf("%s: %s's %s gets %s, which is no GET route of the router (see `server routes`)", w.file, w.name, tt.probe, path)
			}
			if p := containerPort(t, w, tt.p.HTTPGet.Port); p != httpPort {
				t.Errorf("%s: %s's %s goes to port %d; the router listens on HTTP_ADDR's port %d", w.file, w.name, tt.probe, p, httpPort)
			}
		})
	}
	for name, s := range composeServer(t) {
		if s.Healthcheck == nil {
			continue
		}
		for _, word := range s.Healthcheck.Test {
			for _, u := range regexp.MustCompile(`https?://[^/\s]+(/[^\s"']*)`).FindAllStringSubmatch(word, -1) {
				if !get[u[1]] {
					t.Errorf("%s: service %s's healthcheck gets %s, which is no GET route", composeFile, name, u[1])
				}
			}
		}
	}
}

// getRoutes returns the GET routes of the router the server builds from cfg.
func getRoutes(t *testing.T, cfg app.Config) map[string]bool {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	a, cleanup, err := apitemplate.InitializeApp(cfg, io.Discard)
	if err != nil {
		t.Fatalf("building the app with the Deployment's settings: %v", err)
	}
	defer cleanup()
	get := map[string]bool{}
	for _, r := range a.Routes().All() {
		if r.Method == "GET" {
			get[r.Path] = true
		}
	}
	return get
}

// TestMetricsPath checks the scrape annotation's path is where the server
// serves metrics: the GET route it adds to the router when METRICS_ADDR is
// empty, and moves to METRICS_ADDR's listener when it is set.
func TestMetricsPath(t *testing.T) {
	all := loadManifests(t)
	cfg, w := deploymentConfig(t, all)
	path := w.pod.Metadata.Annotations["prometheus.io/path"]
	if path == "" {
		t.Skipf("%s: no prometheus.io/path annotation", w.file)
	}
	onAPI := cfg
	onAPI.MetricsAddr = ""
	withAPI := getRoutes(t, onAPI)
	onOwn := cfg
	onOwn.MetricsAddr = "127.0.0.1:9"
	if !withAPI[path] || getRoutes(t, onOwn)[path] {
		t.Errorf("%s: prometheus.io/path is %s, which is not where the server serves metrics: fix the annotation", w.file, path)
	}
}

// containerPort resolves a probe's or Service's port, a number or the name
// of one of w's container ports.
func containerPort(t *testing.T, w workload, n yaml.Node) int {
	t.Helper()
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	for _, p := range w.c.Ports {
		if p.Name == n.Value {
			return p.ContainerPort
		}
	}
	t.Fatalf("%s: port %q is no named port of %s's container", w.file, n.Value, w.name)
	return 0
}

func TestPorts(t *testing.T) {
	all := loadManifests(t)
	cfg, w := deploymentConfig(t, all)
	stages := parseDockerfile(t)
	final := parseFinal(t, stages[len(stages)-1])

	want := map[string]int{"http": port(t, "HTTP_ADDR", cfg.HTTPAddr)}
	if cfg.MetricsAddr != "" {
		want["metrics"] = port(t, "METRICS_ADDR", cfg.MetricsAddr)
	}
	got := map[string]int{}
	for _, p := range w.c.Ports {
		got[p.Name] = p.ContainerPort
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		setting := map[string]string{"http": "HTTP_ADDR", "metrics": "METRICS_ADDR"}[name]
		if got[name] != want[name] {
			t.Errorf("%s: %s needs containerPort %d named %q (the port of %s in the ConfigMap); found %d", w.file, w.name, want[name], name, setting, got[name])
		}
		if !slices.Contains(final.expose, want[name]) {
			t.Errorf("%s: the final stage does not EXPOSE %d (%s)", dockerfile, want[name], setting)
		}
	}
	if len(got) != len(w.c.Ports) {
		t.Errorf("%s: %s's container ports need distinct names", w.file, w.name)
	}

	if cfg.MetricsAddr != "" {
		a := w.pod.Metadata.Annotations
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(want["metrics"]) {
			t.Errorf("%s: the pod template wants annotations prometheus.io/scrape: \"true\" and prometheus.io/port: \"%d\" (METRICS_ADDR); found %v", w.file, want["metrics"], a)
		}
	}

	svc, sm := one[service](t, all, "Service")
	if len(svc.Spec.Ports) == 0 {
		t.Fatalf("%s: the Service has no ports", sm.file)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.Value != "http" {
			t.Errorf("%s: Service port %d targets %q; target the container port by its name, http, so a change of HTTP_ADDR follows", sm.file, p.Port, p.TargetPort.Value)
		}
	}

	for name, s := range composeServer(t) {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if n, err := strconv.Atoi(parts[len(parts)-1]); err != nil || n != want["http"] {
				t.Errorf("%s: service %s publishes %q; the container side must be HTTP_ADDR's port %d", composeFile, name, p, want["http"])
			}
		}
	}
}

func TestShutdownFitsGracePeriod(t *testing.T) {
	all := loadManifests(t)
	cfg, w := deploymentConfig(t, all)
	grace := 30 * time.Second // Kubernetes' default
	if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	var preStop time.Duration
	if l := w.c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		preStop = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	if grace <= preStop+cfg.ShutdownTimeout {
		t.Errorf("%s: terminationGracePeriodSeconds (%s) must exceed the preStop sleep (%s) plus SHUTDOWN_TIMEOUT (%s), or the kubelet kills pods with requests in flight: raise it",
			w.file, grace, preStop, cfg.ShutdownTimeout)
	}
}

func TestSecurity(t *testing.T) {
	all := loadManifests(t)
	stages := parseDockerfile(t)
	final := parseFinal(t, stages[len(stages)-1])
	uid := final.uid(t)
	if img := final.image; img != "scratch" && !strings.HasPrefix(img, "gcr.io/distroless/static") {
		t.Errorf("%s: the final stage is FROM %s; want gcr.io/distroless/static-* or scratch, which the static binary needs and nothing more", dockerfile, img)
	}

	for _, w := range workloads(t, all) {
		t.Run(w.name, func(t *testing.T) {
			pod, sc := w.pod.Spec.SecurityContext, w.c.SecurityContext
			if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
				t.Errorf("%s: %s: set securityContext.runAsNonRoot: true on the pod", w.file, w.name)
			}
			if pod == nil || pod.RunAsUser == nil || *pod.RunAsUser != uid {
				t.Errorf("%s: %s: set the pod's securityContext.runAsUser to %d, the Dockerfile's USER", w.file, w.name, uid)
			}
			if sc == nil {
				t.Fatalf("%s: %s: the container needs a securityContext", w.file, w.name)
			}
			if sc.RunAsUser != nil && *sc.RunAsUser != uid {
				t.Errorf("%s: %s: the container's runAsUser %d differs from the Dockerfile's USER %d", w.file, w.name, *sc.RunAsUser, uid)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: %s: set allowPrivilegeEscalation: false", w.file, w.name)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: %s: set readOnlyRootFilesystem: true (the server writes no files)", w.file, w.name)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: %s: set capabilities.drop: [ALL]", w.file, w.name)
			}
		})
	}
}

// matches reports whether labels satisfy selector.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestLabelsAndScaling(t *testing.T) {
	all := loadManifests(t)
	d, dm := one[deployment](t, all, "Deployment")
	svc, sm := one[service](t, all, "Service")
	h, hm := one[hpa](t, all, "HorizontalPodAutoscaler")
	j, jm := one[job](t, all, "Job")
	podLabels := d.Spec.Template.Metadata.Labels

	sel := d.Spec.Selector.MatchLabels
	if len(sel) == 0 || !matches(sel, podLabels) {
		t.Errorf("%s: the Deployment's selector.matchLabels %v must be non-empty and among its pod template's labels %v", dm.file, sel, podLabels)
	}
	if len(svc.Spec.Selector) == 0 || !matches(svc.Spec.Selector, podLabels) {
		t.Errorf("%s: the Service's selector %v does not select the Deployment's pods (labels %v)", sm.file, svc.Spec.Selector, podLabels)
	}
	if matches(svc.Spec.Selector, j.Spec.Template.Metadata.Labels) {
		t.Errorf("%s: the Service's selector %v also selects the migration Job's pod (labels %v, %s), which serves nothing: give them different component labels", sm.file, svc.Spec.Selector, j.Spec.Template.Metadata.Labels, jm.file)
	}
	if p, ok := named(all, "PodDisruptionBudget", dm.Metadata.Name); ok {
		var b pdb
		if err := p.node.Decode(&b); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(b.Spec.Selector.MatchLabels, sel) {
			t.Errorf("%s: the PodDisruptionBudget's selector %v differs from the Deployment's %v", p.file, b.Spec.Selector.MatchLabels, sel)
		}
	}

	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != dm.APIVersion || ref.Kind != "Deployment" || ref.Name != dm.Metadata.Name {
		t.Errorf("%s: scaleTargetRef is %s %s %s; want %s Deployment %s", hm.file, ref.APIVersion, ref.Kind, ref.Name, dm.APIVersion, dm.Metadata.Name)
	}
	if hm.APIVersion != "autoscaling/v2" {
		t.Errorf("%s: use apiVersion autoscaling/v2, not %s", hm.file, hm.APIVersion)
	}
	minReplicas := 1
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	if d.Spec.Replicas != nil && (*d.Spec.Replicas < minReplicas || *d.Spec.Replicas > h.Spec.MaxReplicas) {
		t.Errorf("%s: replicas %d is outside the HPA's %d..%d (%s)", dm.file, *d.Spec.Replicas, minReplicas, h.Spec.MaxReplicas, hm.file)
	}

	// Every API pod at the HPA's maximum, the rollout's surge and the
	// migration Job each open up to DB_MAX_OPEN_CONNS connections.
	cfg, _ := deploymentConfig(t, all)
	var surge int
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge.Kind != 0 {
		v := ru.MaxSurge.Value
		if pct, ok := strings.CutSuffix(v, "%"); ok {
			n, _ := strconv.Atoi(pct)
			surge = int(math.Ceil(float64(h.Spec.MaxReplicas) * float64(n) / 100))
		} else {
			surge, _ = strconv.Atoi(v)
		}
	} else {
		surge = int(math.Ceil(float64(h.Spec.MaxReplicas) * 0.25)) // Kubernetes' default 25%
	}
	jobs := 1
	if j.Spec.Parallelism != nil {
		jobs = *j.Spec.Parallelism
	}
	pods := h.Spec.MaxReplicas + surge + jobs
	if need := pods * cfg.DBMaxOpenConns; need > postgresConnectionBudget {
		t.Errorf("%d pods (maxReplicas %d + maxSurge %d + %d migration Job) x DB_MAX_OPEN_CONNS %d = %d connections, more than PostgreSQL allows by default (%d): lower maxReplicas or DB_MAX_OPEN_CONNS, or raise max_connections and postgresConnectionBudget in this test together",
			pods, h.Spec.MaxReplicas, surge, jobs, cfg.DBMaxOpenConns, need, postgresConnectionBudget)
	}
}

// TestImage stands in for `docker build`, which needs a Docker engine: it
// builds ./cmd/server as the Dockerfile's build stage does and checks the
// binary would run on the final stage, with every command line the deploy
// files give it.
func TestImage(t *testing.T) {
	stages := parseDockerfile(t)
	build := stages[0]
	final := parseFinal(t, stages[len(stages)-1])

	t.Run("go version", func(t *testing.T) {
		mod, err := os.ReadFile(goModFile)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`).FindStringSubmatch(string(mod))
		if m == nil {
			t.Fatalf("%s has no go line", goModFile)
		}
		img := regexp.MustCompile(`^(?:docker\.io/(?:library/)?)?golang:(\d+)\.(\d+)(?:\.(\d+))?(?:[-@].*)?$`).FindStringSubmatch(build.image)
		if img == nil {
			t.Fatalf("%s: the build stage is FROM %s; want golang:%s.%s", dockerfile, build.image, m[1], m[2])
		}
		if img[1] != m[1] || img[2] != m[2] {
			t.Errorf("%s: FROM %s, but go.mod says go %s.%s: use golang:%s.%s", dockerfile, build.image, m[1], m[2], m[1], m[2])
		}
		if img[3] != "" && m[3] != "" {
			if a, b := atoi(img[3]), atoi(m[3]); a < b {
				t.Errorf("%s: FROM %s is older than go.mod's go %s.%s.%s, and golang images do not download toolchains (GOTOOLCHAIN=local)", dockerfile, build.image, m[1], m[2], m[3])
			}
		}
	})

	b := parseBuild(t, build)
	if got := final.copied[final.entrypoint0(t)]; got != b.output {
		t.Errorf("%s: ENTRYPOINT runs %s, but the final stage copies the binary (%s) to %v", dockerfile, final.entrypoint0(t), b.output, final.copied)
	}
	if pkgs := slices.DeleteFunc(slices.Clone(b.args), func(a string) bool { return strings.HasPrefix(a, "-") }); !slices.Contains(pkgs, "./cmd/server") {
		t.Errorf("%s:%d: the build line must build ./cmd/server", dockerfile, b.line)
	}

	bin := filepath.Join(t.TempDir(), "server")
	goEnv := append(os.Environ(), b.env...)
	if !slices.ContainsFunc(b.env, func(e string) bool { return strings.HasPrefix(e, "GOOS=") }) {
		goEnv = append(goEnv, "GOOS=linux") // the image is Linux whatever the host
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, b.withOutput(bin)...)...)
	cmd.Dir = moduleRoot
	cmd.Env = goEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s:%d: go build %s: %v\n%s", dockerfile, b.line, strings.Join(b.args, " "), err, out)
	}

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("the binary is not ELF: %v", err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Fatalf("%s:%d: the binary is dynamically linked (%s), so it cannot run on %s: build with CGO_ENABLED=0", dockerfile, b.line, p.Type, final.image)
			}
		}
	})

	if runtime.GOOS != "linux" {
		t.Skip("the subcommand checks run the Linux binary")
	}
	all := loadManifests(t)
	type run struct {
		where string
		argv  []string
		want  []string // the subcommand and its arguments, when it matters
	}
	runs := []run{{dockerfile + " ENTRYPOINT + CMD", slices.Concat(final.entrypoint, final.cmd), []string{"serve"}}}
	for _, w := range workloads(t, all) {
		want := map[string][]string{"Deployment": {"serve"}, "Job": {"migrate", "up"}}[strings.Fields(w.name)[0]]
		runs = append(runs, run{w.file + " " + w.name, kubeArgv(final, w.c), want})
	}
	for name, s := range composeServer(t) {
		entry, cmd := final.entrypoint, final.cmd
		if ep, ok := words(t, s.Entrypoint); ok {
			entry, cmd = ep, nil // a new entrypoint drops the image's CMD
		}
		if c, ok := words(t, s.Command); ok {
			cmd = c
		}
		runs = append(runs, run{composeFile + " service " + name, slices.Concat(entry, cmd), nil})
	}
	for _, r := range runs {
		t.Run(r.where, func(t *testing.T) {
			if len(r.argv) == 0 || r.argv[0] != final.entrypoint0(t) {
				t.Fatalf("%s runs %q; want the binary, %s", r.where, r.argv, final.entrypoint0(t))
			}
			args := r.argv[1:]
			if r.want != nil && !slices.Equal(args, r.want) {
				t.Errorf("%s runs %q; want %s %s", r.where, r.argv, r.argv[0], strings.Join(r.want, " "))
			}
			if len(args) > 0 {
				// The subcommand exists: its help exits 0.
				if code, out := runServer(t, bin, nil, args[0], "-h"); code != 0 {
					t.Errorf("%s runs subcommand %q, but `server %s -h` exits %d: %s", r.where, args[0], args[0], code, out)
				}
			}
			// The whole command line is accepted: the server gets past its
			// usage checks (exit 2) to loading the configuration, which a
			// deliberately bad setting then fails (exit 1).
			code, out := runServer(t, bin, []string{"BCRYPT_COST=1", "DATABASE_URL=postgres://x@127.0.0.1:1/x", "HTTP_ADDR=127.0.0.1:0"}, args...)
			if code != 1 || !strings.Contains(out, "BCRYPT_COST") {
				t.Errorf("%s runs `server %s`, which the server does not accept (exit %d, want 1 from the configuration check): %s", r.where, strings.Join(args, " "), code, out)
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func (f finalImage) entrypoint0(t *testing.T) string {
	t.Helper()
	if len(f.entrypoint) == 0 {
		t.Fatalf("%s: the final stage needs ENTRYPOINT [\"/server\"] (the binary), with the subcommand in CMD", dockerfile)
	}
	return f.entrypoint[0]
}

// kubeArgv is the command line Kubernetes runs: command replaces the
// image's ENTRYPOINT (and drops its CMD), args replaces its CMD.
func kubeArgv(f finalImage, c container) []string {
	entry, cmd := f.entrypoint, f.cmd
	if c.Command != nil {
		entry, cmd = c.Command, nil
	}
	if c.Args != nil {
		cmd = c.Args
	}
	return slices.Concat(entry, cmd)
}

// runServer runs the binary with only env set, in an empty directory (no
// .env), and returns its exit status and output.
func runServer(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	if env == nil {
		cmd.Env = []string{}
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("run %s %q: %v", bin, args, err)
		return -1, ""
	}
}

// TestComposeDatabaseIsTheQuickStarts holds compose.yaml's db service to
// what a newcomer without a PostgreSQL of their own needs from it: the
// server with nothing set (make run), and the tests (make test), find it
// where it publishes itself, as the user they connect as, with no password.
func TestComposeDatabaseIsTheQuickStarts(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(interpolate(string(raw))), &c); err != nil {
		t.Fatalf("%s does not parse: %v", composeFile, err)
	}
	db, ok := c.Services["db"]
	if !ok {
		t.Fatalf("%s has no db service (docker compose up -d db is the quick start's database)", composeFile)
	}
	env := composeEnv(t, db.Environment)
	defaults, err := config(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{"the default DATABASE_URL": defaults.DatabaseURL, "the tests' server": apitest.ServerURL()} {
		u, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		published := fmt.Sprintf("%s:%d:5432", u.Host, u.Port)
		if !slices.Contains(db.Ports, published) {
			t.Errorf("%s is %s:%d; service db publishes %q, want %q", name, u.Host, u.Port, db.Ports, published)
		}
		if user := cmp.Or(env["POSTGRES_USER"], "postgres"); user != u.User {
			t.Errorf("%s connects as %s; service db's user is %s", name, u.User, user)
		}
		if u.Password == "" && env["POSTGRES_HOST_AUTH_METHOD"] != "trust" {
			t.Errorf("%s has no password; service db must let it in without one (POSTGRES_HOST_AUTH_METHOD: trust)", name)
		}
	}
	if u, err := pgx.ParseConfig(defaults.DatabaseURL); err == nil && env["POSTGRES_DB"] != u.Database {
		t.Errorf("the default DATABASE_URL uses database %s; service db creates %q", u.Database, env["POSTGRES_DB"])
	}
}
