package charttest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir = "../aispool"
	repoRoot = "../.."
	// kubeVersion is the Kubernetes version the chart is rendered for: the
	// oldest its Chart.yaml accepts.
	kubeVersion = "1.30.0"
	namespace   = "observability"
	release     = "aispool"
)

// helmCommand is the helm command line: $HELM, or go run of the pinned
// module version.
func helmCommand() []string {
	if h := strings.Fields(os.Getenv("HELM")); len(h) > 0 {
		return h
	}
	return []string{"go", "run", "helm.sh/helm/v4/cmd/helm@v4.3.2"}
}

// helm runs helm with args and returns its standard output; a failure
// returns the error with its standard error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmdline := append(helmCommand(), args...)
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w\n%s", strings.Join(cmdline, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// render runs helm template with the values files and --set pairs given.
func render(t *testing.T, valuesFiles []string, sets ...string) (string, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return helm(t, args...)
}

// examples are the values files every test renders.
func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s/examples: %v", chartDir, err)
	}
	return files
}

// Objects are the decoded objects of one rendering, by kind.
type Objects struct {
	DaemonSets      []*appsv1.DaemonSet
	StatefulSets    []*appsv1.StatefulSet
	Services        []*corev1.Service
	Secrets         []*corev1.Secret
	ConfigMaps      []*corev1.ConfigMap
	PDBs            []*policyv1.PodDisruptionBudget
	Jobs            []*batchv1.Job
	ServiceMonitors []*ServiceMonitor
	PrometheusRules []*PrometheusRule
	Certificates    []*Certificate
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decode splits a rendering into its documents and decodes each strictly
// (unknown or duplicate fields are errors) into the type of its kind.
func decode(manifest string) (*Objects, error) {
	objs := &Objects{}
	var errs []error
	for i, doc := range docSeparator.Split(manifest, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		var target any
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 DaemonSet":
			o := &appsv1.DaemonSet{}
			objs.DaemonSets, target = append(objs.DaemonSets, o), o
		case "apps/v1 StatefulSet":
			o := &appsv1.StatefulSet{}
			objs.StatefulSets, target = append(objs.StatefulSets, o), o
		case "v1 Service":
			o := &corev1.Service{}
			objs.Services, target = append(objs.Services, o), o
		case "v1 Secret":
			o := &corev1.Secret{}
			objs.Secrets, target = append(objs.Secrets, o), o
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			objs.ConfigMaps, target = append(objs.ConfigMaps, o), o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			objs.PDBs, target = append(objs.PDBs, o), o
		case "batch/v1 Job":
			o := &batchv1.Job{}
			objs.Jobs, target = append(objs.Jobs, o), o
		case "monitoring.coreos.com/v1 ServiceMonitor":
			o := &ServiceMonitor{}
			objs.ServiceMonitors, target = append(objs.ServiceMonitors, o), o
		case "monitoring.coreos.com/v1 PrometheusRule":
			o := &PrometheusRule{}
			objs.PrometheusRules, target = append(objs.PrometheusRules, o), o
		case "cert-manager.io/v1 Certificate":
			o := &Certificate{}
			objs.Certificates, target = append(objs.Certificates, o), o
		default:
			errs = append(errs, fmt.Errorf("document %d: %s %s: a kind this test does not know; add its type", i, tm.APIVersion, tm.Kind))
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i, tm.Kind, err))
		}
	}
	return objs, errors.Join(errs...)
}

func stripComments(doc string) string {
	var sb strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			sb.WriteString(line)
		}
	}
	return sb.String()
}

// renderings caches the rendering of each example: helm is slow to start.
var renderings sync.Map // values file -> *rendering

type rendering struct {
	once     sync.Once
	manifest string
	objs     *Objects
	err      error
}

func renderExample(t *testing.T, file string) (string, *Objects) {
	t.Helper()
	r, _ := renderings.LoadOrStore(file, &rendering{})
	rr := r.(*rendering)
	rr.once.Do(func() {
		rr.manifest, rr.err = render(t, []string{file})
		if rr.err == nil {
			rr.objs, rr.err = decode(rr.manifest)
		}
	})
	if rr.err != nil {
		t.Fatalf("%s: %v", file, rr.err)
	}
	return rr.manifest, rr.objs
}

// TestLint runs helm lint --strict with every example.
func TestLint(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, err := helm(t, "lint", "--strict", chartDir, "--namespace", namespace, "--kube-version", kubeVersion, "--values", file)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestStrictDecode renders every example and decodes every object
// strictly into its API type.
func TestStrictDecode(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, objs := renderExample(t, file)
			if len(objs.DaemonSets)+len(objs.StatefulSets) == 0 {
				t.Fatal("renders neither an agent nor a gateway")
			}
		})
	}
}

// TestDecodeRefusesUnknownFields makes sure the strict decoding fails on
// what it must: a misspelt field, a field at the wrong level, a kind it
// does not know.
func TestDecodeRefusesUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field":  "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  internalTraficPolicy: Local\n",
		"wrong level":     "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: b\n          httpGet: {path: /readyz}\n",
		"duplicate field": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
		"unknown kind":    "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"crd field":       "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  endpoints:\n    - port: admin\n      intervall: 30s\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decode(doc); err == nil {
				t.Fatal("decoded without an error")
			}
		})
	}
	if _, err := decode("# a comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"); err != nil {
		t.Fatalf("a valid document: %v", err)
	}
}

// TestPlainManifestDecodes decodes deploy/kubernetes/daemonset.yaml, the
// node agent without Helm, as strictly as the chart's renderings.
func TestPlainManifestDecodes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "kubernetes", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.DaemonSets) != 1 || len(objs.Services) != 1 || len(objs.Secrets) != 1 {
		t.Fatalf("%d DaemonSets, %d Services, %d Secrets; want one of each", len(objs.DaemonSets), len(objs.Services), len(objs.Secrets))
	}
}
