package charttest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

func example(name string) string { return filepath.Join(chartDir, "examples", name) }

// podSpecs returns the pod templates of the agents and the gateways.
func podSpecs(objs *Objects) map[string]*corev1.PodTemplateSpec {
	pods := map[string]*corev1.PodTemplateSpec{}
	for _, ds := range objs.DaemonSets {
		pods["DaemonSet/"+ds.Name] = &ds.Spec.Template
	}
	for _, ss := range objs.StatefulSets {
		pods["StatefulSet/"+ss.Name] = &ss.Spec.Template
	}
	return pods
}

func container(t *testing.T, pod *corev1.PodTemplateSpec, name string) *corev1.Container {
	t.Helper()
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// flagValue returns the value of --name=value in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// TestDefaults checks what the chart promises with no values at all: a
// node agent with TLS and the path secret on, a node-local Service, no
// hostPort, probes on /healthz and /readyz, a non-root read-only container
// of the image make image builds.
func TestDefaults(t *testing.T) {
	_, objs := renderExample(t, example("default.yaml"))
	if len(objs.DaemonSets) != 1 || len(objs.StatefulSets) != 0 {
		t.Fatalf("%d DaemonSets and %d StatefulSets, want the agent only", len(objs.DaemonSets), len(objs.StatefulSets))
	}
	ds := objs.DaemonSets[0]
	c := container(t, &ds.Spec.Template, "aispool")
	for _, flag := range []string{"tls-cert", "tls-key", "path-secret-file", "spool-dir", "max-spool-bytes", "memory-limit", "shutdown-timeout"} {
		if _, ok := flagValue(c.Args, flag); !ok {
			t.Errorf("the agent runs without --%s: %q", flag, c.Args)
		}
	}
	if v, _ := flagValue(c.Args, "overflow"); v != "reject" {
		t.Errorf("--overflow=%s, want reject", v)
	}
	if v, _ := flagValue(c.Args, "memory-limit"); v != "256MiB" {
		t.Errorf("--memory-limit=%s, want 256MiB from the container's limit of %s", v, c.Resources.Limits.Memory())
	}
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			t.Errorf("port %s has hostPort %d by default", p.Name, p.HostPort)
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the root file system is writable")
	}
	psc := ds.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v, want non-root 65532", psc)
	}
	if psc != nil && psc.FSGroup != nil {
		t.Error("fsGroup makes volumes group-writable, which the spool refuses")
	}
	var svc *corev1.Service
	for _, s := range objs.Services {
		if s.Name == ds.Name {
			svc = s
		}
	}
	if svc == nil {
		t.Fatalf("no Service named %s", ds.Name)
	}
	if p := svc.Spec.InternalTrafficPolicy; p == nil || *p != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("agent Service internalTrafficPolicy %v, want Local", ptrString(p))
	}
	var hostPath bool
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == "spool" && v.HostPath != nil && v.HostPath.Path == "/var/lib/aispool" {
			hostPath = true
		}
	}
	if !hostPath {
		t.Error("the agent's spool is not on the hostPath /var/lib/aispool")
	}
}

// TestImageIsTheOneMakeImageBuilds checks that the chart, the plain
// manifest and make image name the same image, and that the chart's tag is
// its appVersion.
func TestImageIsTheOneMakeImageBuilds(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile sets no IMAGE")
	}
	repo := string(m[1])
	chart, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(chart, &meta); err != nil {
		t.Fatal(err)
	}
	want := repo + ":" + meta.AppVersion
	_, objs := renderExample(t, example("fleet.yaml"))
	for name, pod := range podSpecs(objs) {
		if got := container(t, pod, "aispool").Image; got != want {
			t.Errorf("%s runs %s, want %s", name, got, want)
		}
	}
	manifest, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "kubernetes", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(manifest, []byte("image: "+want+"\n")) {
		t.Errorf("deploy/kubernetes/daemonset.yaml does not run %s", want)
	}
}

// TestSelectorsMatch checks that every Service, PodDisruptionBudget and
// workload selector selects the pods it is meant for, and that the
// StatefulSet's governing Service exists.
func TestSelectorsMatch(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, objs := renderExample(t, file)
			pods := podSpecs(objs)
			matches := func(sel map[string]string) []string {
				var names []string
				for name, p := range pods {
					if labels.SelectorFromSet(sel).Matches(labels.Set(p.Labels)) {
						names = append(names, name)
					}
				}
				return names
			}
			for _, ds := range objs.DaemonSets {
				if !labels.SelectorFromSet(ds.Spec.Selector.MatchLabels).Matches(labels.Set(ds.Spec.Template.Labels)) {
					t.Errorf("DaemonSet %s does not select its own pods", ds.Name)
				}
			}
			for _, ss := range objs.StatefulSets {
				if !labels.SelectorFromSet(ss.Spec.Selector.MatchLabels).Matches(labels.Set(ss.Spec.Template.Labels)) {
					t.Errorf("StatefulSet %s does not select its own pods", ss.Name)
				}
				if !slices.ContainsFunc(objs.Services, func(s *corev1.Service) bool {
					return s.Name == ss.Spec.ServiceName && s.Spec.ClusterIP == corev1.ClusterIPNone
				}) {
					t.Errorf("StatefulSet %s: no headless Service %s", ss.Name, ss.Spec.ServiceName)
				}
			}
			for _, s := range objs.Services {
				if got := matches(s.Spec.Selector); len(got) != 1 {
					t.Errorf("Service %s selects %v, want one workload", s.Name, got)
				}
			}
			for _, pdb := range objs.PDBs {
				if got := matches(pdb.Spec.Selector.MatchLabels); len(got) != 1 || !strings.HasPrefix(got[0], "StatefulSet/") {
					t.Errorf("PodDisruptionBudget %s selects %v, want the gateway", pdb.Name, got)
				}
			}
			for _, sm := range objs.ServiceMonitors {
				sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
				if err != nil {
					t.Fatal(err)
				}
				var n int
				for _, s := range objs.Services {
					if sel.Matches(labels.Set(s.Labels)) && s.Spec.ClusterIP != corev1.ClusterIPNone {
						n++
						if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == sm.Spec.Endpoints[0].Port }) {
							t.Errorf("ServiceMonitor port %s is not a port of Service %s", sm.Spec.Endpoints[0].Port, s.Name)
						}
					}
				}
				if n != len(pods) {
					t.Errorf("ServiceMonitor selects %d Services, want one per tier (%d)", n, len(pods))
				}
			}
		})
	}
}

// TestGateway checks the gateway tier of the fleet example: a claim per
// replica that outlives scaling down, a PodDisruptionBudget, and a
// termination period longer than the preStop pause plus the graceful
// shutdown.
func TestGateway(t *testing.T) {
	_, objs := renderExample(t, example("fleet.yaml"))
	if len(objs.StatefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(objs.StatefulSets))
	}
	ss := objs.StatefulSets[0]
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", ss.Spec.Replicas)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "spool" {
		t.Fatalf("volume claim templates %+v, want one named spool", ss.Spec.VolumeClaimTemplates)
	}
	if got := ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String(); got != "20Gi" {
		t.Errorf("claim size %s, want 20Gi", got)
	}
	if p := ss.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenScaled != "Retain" || p.WhenDeleted != "Retain" {
		t.Errorf("claim retention %+v, want Retain when scaled and deleted", p)
	}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name == "spool" {
			t.Error("the gateway's pod template has a spool volume: it must come from the claim template")
		}
	}
	if len(objs.PDBs) != 1 || objs.PDBs[0].Spec.MaxUnavailable == nil || objs.PDBs[0].Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudgets %+v, want one with maxUnavailable 1", objs.PDBs)
	}
	c := container(t, &ss.Spec.Template, "aispool")
	if v, _ := flagValue(c.Args, "max-spool-bytes"); v != "17179869184" {
		t.Errorf("--max-spool-bytes=%s, want 17179869184 (not in float notation)", v)
	}
	if v, _ := flagValue(c.Args, "memory-limit"); v != "1GiB" {
		t.Errorf("--memory-limit=%s, want 1GiB", v)
	}
	// The agents send to the gateway and trust the generated CA.
	agent := container(t, &objs.DaemonSets[0].Spec.Template, "aispool")
	var secretName, certFile string
	for _, e := range agent.Env {
		switch e.Name {
		case "APPLICATIONINSIGHTS_CONNECTION_STRING":
			secretName = e.ValueFrom.SecretKeyRef.Name
		case "SSL_CERT_FILE":
			certFile = e.Value
		}
	}
	if secretName != "aispool-agent-upstream" || certFile != "/etc/aispool/ca/ca.crt" {
		t.Errorf("agent connection string from %q, SSL_CERT_FILE %q: want the upstream Secret and the CA", secretName, certFile)
	}
}

// TestGracePeriods checks, for every pod of every example, that the
// kubelet waits longer than the preStop pause and aispool's graceful
// shutdown together.
func TestGracePeriods(t *testing.T) {
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, objs := renderExample(t, file)
			for name, pod := range podSpecs(objs) {
				c := container(t, pod, "aispool")
				v, ok := flagValue(c.Args, "shutdown-timeout")
				if !ok {
					t.Fatalf("%s: no --shutdown-timeout", name)
				}
				shutdown, err := time.ParseDuration(v)
				if err != nil {
					t.Fatal(err)
				}
				var preStop time.Duration
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
					preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				}
				grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
				if grace < preStop+shutdown+5*time.Second {
					t.Errorf("%s: terminationGracePeriodSeconds %v < preStop %v + shutdown %v + 5s", name, grace, preStop, shutdown)
				}
			}
		})
	}
}

// TestDrainJob checks that a claim listed in gateway.drainClaims gets a Job
// running aispool drain on it.
func TestDrainJob(t *testing.T) {
	_, objs := renderExample(t, example("drain.yaml"))
	if len(objs.Jobs) != 1 {
		t.Fatalf("%d Jobs, want 1", len(objs.Jobs))
	}
	job := objs.Jobs[0]
	spec := job.Spec.Template.Spec
	if len(spec.Containers) != 1 || spec.Containers[0].Args[0] != "drain" {
		t.Fatalf("the Job runs %+v, want aispool drain", spec.Containers)
	}
	if v, _ := flagValue(spec.Containers[0].Args, "spool-dir"); v != "/spool/aispool" {
		t.Errorf("drain --spool-dir=%s, want the gateway's /spool/aispool", v)
	}
	var claim string
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != "spool-aispool-gateway-2" {
		t.Errorf("the Job mounts claim %q, want spool-aispool-gateway-2", claim)
	}
	// The claim name the Job mounts is the one the StatefulSet creates:
	// <template name>-<StatefulSet name>-<ordinal>.
	ss := objs.StatefulSets[0]
	if want := fmt.Sprintf("%s-%s-%d", ss.Spec.VolumeClaimTemplates[0].Name, ss.Name, 2); claim != want {
		t.Errorf("replica 2's claim is %s, the Job drains %s", want, claim)
	}
}

// TestGeneratedCertificate checks the generated CA and certificate: the
// certificate is signed by the CA the ConfigMap publishes and names every
// Service of both tiers.
func TestGeneratedCertificate(t *testing.T) {
	_, objs := renderExample(t, example("fleet.yaml"))
	var tlsSecret *corev1.Secret
	for _, s := range objs.Secrets {
		if s.Type == corev1.SecretTypeTLS {
			tlsSecret = s
		}
	}
	if tlsSecret == nil {
		t.Fatal("no kubernetes.io/tls Secret rendered")
	}
	var caPEM string
	for _, cm := range objs.ConfigMaps {
		if strings.HasSuffix(cm.Name, "-ca") {
			caPEM = cm.Data["ca.crt"]
		}
	}
	if caPEM != string(tlsSecret.Data["ca.crt"]) {
		t.Fatal("the CA ConfigMap and the Secret's ca.crt differ")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatal("the published CA does not parse")
	}
	block, _ := pem.Decode(tlsSecret.Data["tls.crt"])
	if block == nil {
		t.Fatal("tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range objs.Services {
		if s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		name := s.Name + "." + s.Namespace + ".svc"
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("the certificate does not verify for %s: %v", name, err)
		}
	}
}

// TestRulesAndDashboardAreTheDeployedOnes checks that the chart's copies of
// the alert rules and the dashboard are those of deploy/, and that the
// PrometheusRule and the dashboard ConfigMap carry them unchanged.
func TestRulesAndDashboardAreTheDeployedOnes(t *testing.T) {
	for copyName, original := range map[string]string{
		"aispool-rules.yaml": filepath.Join(repoRoot, "deploy", "prometheus", "aispool-rules.yaml"),
		"aispool.json":       filepath.Join(repoRoot, "deploy", "grafana", "aispool.json"),
	} {
		a, err := os.ReadFile(filepath.Join(chartDir, "files", copyName))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(original)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("charts/aispool/files/%s differs from %s: cp %s charts/aispool/files/", copyName, original, original)
		}
	}
	_, objs := renderExample(t, example("fleet.yaml"))
	if len(objs.PrometheusRules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(objs.PrometheusRules))
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "prometheus", "aispool-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(raw, &want); err != nil {
		t.Fatal(err)
	}
	got := objs.PrometheusRules[0].Spec
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) || len(want.Groups) == 0 || len(want.Groups[0].Rules) < 20 {
		t.Errorf("the PrometheusRule's rules differ from deploy/prometheus/aispool-rules.yaml (%d groups)", len(got.Groups))
	}
	var dashboard string
	for _, cm := range objs.ConfigMaps {
		if strings.HasSuffix(cm.Name, "-dashboard") {
			dashboard = cm.Data["aispool.json"]
		}
	}
	rawDash, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "grafana", "aispool.json"))
	if err != nil {
		t.Fatal(err)
	}
	if dashboard != string(rawDash) {
		t.Error("the dashboard ConfigMap does not hold deploy/grafana/aispool.json unchanged")
	}
}

// TestRefusals checks that values that would break the graceful shutdown
// or the TLS setup are refused with a message naming them.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"grace too short", []string{"agent.terminationGracePeriodSeconds=10"}, "agent.terminationGracePeriodSeconds (10) must be at least"},
		{"gateway grace too short", []string{"gateway.enabled=true", "gateway.shutdownTimeoutSeconds=120"}, "gateway.terminationGracePeriodSeconds (60) must be at least"},
		{"tls mode", []string{"intake.tls.mode=selfsigned"}, `intake.tls.mode "selfsigned"`},
		{"cert-manager without issuer", []string{"intake.tls.mode=certManager"}, "issuerRef.name"},
		{"trust CA without generated CA", []string{"agent.trustGeneratedCA=true", "intake.tls.mode=secret"}, "agent.trustGeneratedCA needs"},
		{"memory in decimal units", []string{"agent.resources.limits.memory=256M"}, `resources.limits.memory "256M"`},
		{"spool type", []string{"agent.spool.type=pvc"}, `agent.spool.type "pvc"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, nil, tc.sets...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template %v: %v, want an error containing %q", tc.sets, err, tc.want)
			}
		})
	}
}

// TestArgumentsPassValidate runs the rendered arguments of every pod of
// every example through aispool validate, built from this repository, with
// the files they name (the generated certificate and key, a path secret)
// laid out in a temporary directory: the flags exist, their values are
// valid, and no exposure warning is printed (TLS and authentication on, key
// files readable by their owner only).
func TestArgumentsPassValidate(t *testing.T) {
	bin := aispoolBinary(t)
	for _, file := range examples(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, objs := renderExample(t, file)
			cert, key := testCertificate(t, objs)
			for name, pod := range podSpecs(objs) {
				dir := t.TempDir()
				run := filepath.Join(dir, "run")
				if err := os.Mkdir(run, 0o700); err != nil {
					t.Fatal(err)
				}
				for f, content := range map[string][]byte{"tls.crt": cert, "tls.key": key, "path-secret": []byte(strings.Repeat("s3cret", 8))} {
					if err := os.WriteFile(filepath.Join(run, f), content, 0o400); err != nil {
						t.Fatal(err)
					}
				}
				c := container(t, pod, "aispool")
				if c.Args[0] != "run" {
					t.Fatalf("%s runs %q, want run", name, c.Args[0])
				}
				args := []string{"validate"}
				for _, a := range c.Args[1:] {
					a = strings.ReplaceAll(a, "/run/aispool/", run+"/")
					a = strings.ReplaceAll(a, "=/spool/", "="+dir+"/spool/")
					args = append(args, a)
				}
				cmd := exec.Command(bin, args...)
				cmd.Env = []string{"APPLICATIONINSIGHTS_CONNECTION_STRING=InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-0.in.applicationinsights.azure.com/"}
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("%s: aispool %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
				}
				if strings.Contains(stderr.String(), "warning") {
					t.Errorf("%s: aispool validate warns:\n%s", name, stderr.String())
				}
			}
		})
	}
}

// testCertificate returns the rendered generated certificate and key, or,
// when the example uses certificates of its own, one generated by helm for
// the default values.
func testCertificate(t *testing.T, objs *Objects) (cert, key []byte) {
	t.Helper()
	for _, s := range objs.Secrets {
		if s.Type == corev1.SecretTypeTLS {
			return s.Data["tls.crt"], s.Data["tls.key"]
		}
	}
	_, def := renderExample(t, example("default.yaml"))
	for _, s := range def.Secrets {
		if s.Type == corev1.SecretTypeTLS {
			return s.Data["tls.crt"], s.Data["tls.key"]
		}
	}
	t.Fatal("the default values render no certificate")
	return nil, nil
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// TestValuesDocumented checks that every value of values.yaml is in the
// README's values table: by its own name, by a parent described as a
// whole, or as `.name` on the line of a sibling.
func TestValuesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	var leaves []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			leaves = append(leaves, prefix)
			return
		}
		for k, e := range m {
			if prefix != "" {
				k = prefix + "." + k
			}
			walk(k, e)
		}
	}
	walk("", values)
	if len(leaves) < 50 {
		t.Fatalf("only %d values found", len(leaves))
	}
	documented := func(path string) bool {
		for p := path; ; {
			if strings.Contains(string(readme), "`"+p+"`") {
				return true
			}
			i := strings.LastIndex(p, ".")
			if i < 0 {
				break
			}
			p = p[:i]
		}
		i := strings.LastIndex(path, ".")
		if i < 0 {
			return false
		}
		parent, leaf := path[:i], path[i+1:]
		for _, l := range lines {
			if strings.Contains(l, "`"+parent+".") && strings.Contains(l, "`."+leaf+"`") {
				return true
			}
		}
		return false
	}
	for _, path := range leaves {
		if !documented(path) {
			t.Errorf("value %s is not in charts/aispool/README.md", path)
		}
	}
}

// TestExamplesUseKnownValues checks that every key an example sets is a
// value of values.yaml, so that a misspelt key (which Helm ignores) fails
// here. Below a value that is an empty map or a list in values.yaml
// (labels, annotations, tolerations, …) any key goes.
func TestExamplesUseKnownValues(t *testing.T) {
	load := func(path string) map[string]any {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	defaults := load(filepath.Join(chartDir, "values.yaml"))
	var check func(prefix string, got, known map[string]any) []string
	check = func(prefix string, got, known map[string]any) []string {
		var unknown []string
		for k, v := range got {
			kv, ok := known[k]
			if !ok {
				unknown = append(unknown, prefix+k)
				continue
			}
			sub, isMap := v.(map[string]any)
			ksub, knownMap := kv.(map[string]any)
			if isMap && knownMap && len(ksub) > 0 {
				unknown = append(unknown, check(prefix+k+".", sub, ksub)...)
			}
		}
		return unknown
	}
	for _, file := range examples(t) {
		for _, k := range check("", load(file), defaults) {
			t.Errorf("%s sets %s, which values.yaml does not have", filepath.Base(file), k)
		}
	}
	typo := map[string]any{"gateway": map[string]any{"enabled": true, "replica": 3}, "agent": map[string]any{"podLabels": map[string]any{"any": "x"}}}
	if got := check("", typo, defaults); len(got) != 1 || got[0] != "gateway.replica" {
		t.Errorf("misspelt keys found: %v, want [gateway.replica]", got)
	}
}
