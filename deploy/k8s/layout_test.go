package k8s_test

// The layout's own consistency: references that resolve, the pod
// security and resources every workload must have, probes on real ports,
// the Indexed Job's shards and the check's truths, and the scenario's
// engine setup against the engine's and the query service's flags.

import (
	"fmt"
	"net"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countlab/countlab/scenarios"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// secretKeys are the keys of s (data and stringData).
func secretKeys(s *corev1.Secret) map[string]bool {
	ks := map[string]bool{}
	for k := range s.Data {
		ks[k] = true
	}
	for k := range s.StringData {
		ks[k] = true
	}
	return ks
}

// flagValues reads --name=value args (the form the flags test requires).
func flagValues(args []string) map[string][]string {
	vs := map[string][]string{}
	for _, a := range args {
		if name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && strings.HasPrefix(a, "--") {
			vs[name] = append(vs[name], val)
		}
	}
	return vs
}

func TestReferencesResolve(t *testing.T) {
	l := loadLayout(t, ".")
	for _, ps := range l.pods() {
		secretMounts := map[string]*corev1.SecretVolumeSource{} // mount path -> source
		vols := map[string]corev1.Volume{}
		for _, v := range ps.spec.Volumes {
			vols[v.Name] = v
			switch {
			case v.Secret != nil:
				s, ok := l.secrets[v.Secret.SecretName]
				if !ok {
					t.Errorf("%s: volume %s: Secret %q does not exist", ps.name, v.Name, v.Secret.SecretName)
					continue
				}
				for _, it := range v.Secret.Items {
					if !secretKeys(s)[it.Key] {
						t.Errorf("%s: volume %s: Secret %q has no key %q", ps.name, v.Name, s.Name, it.Key)
					}
				}
			case v.ConfigMap != nil:
				if _, ok := l.configMaps[v.ConfigMap.Name]; !ok {
					t.Errorf("%s: volume %s: ConfigMap %q does not exist", ps.name, v.Name, v.ConfigMap.Name)
				}
			case v.PersistentVolumeClaim != nil:
				if _, ok := l.claims[v.PersistentVolumeClaim.ClaimName]; !ok {
					t.Errorf("%s: volume %s: claim %q does not exist", ps.name, v.Name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		for _, c := range ps.spec.Containers {
			where := ps.name + " container " + c.Name
			for _, m := range c.VolumeMounts {
				v, ok := vols[m.Name]
				if !ok {
					t.Errorf("%s: mounts volume %q, which the pod does not have", where, m.Name)
				} else if v.Secret != nil {
					secretMounts[m.MountPath] = v.Secret
				}
			}
			for _, e := range c.Env {
				if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
					if s, ok := l.secrets[r.SecretKeyRef.Name]; !ok || !secretKeys(s)[r.SecretKeyRef.Key] {
						t.Errorf("%s: env %s: Secret %q key %q does not exist", where, e.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
					}
				}
				if r := e.ValueFrom; r != nil && r.ConfigMapKeyRef != nil {
					if cm, ok := l.configMaps[r.ConfigMapKeyRef.Name]; !ok || !hasKey(cm.Data, r.ConfigMapKeyRef.Key) {
						t.Errorf("%s: env %s: ConfigMap %q key %q does not exist", where, e.Name, r.ConfigMapKeyRef.Name, r.ConfigMapKeyRef.Key)
					}
				}
				if !strings.HasSuffix(e.Name, "_FILE") {
					continue
				}
				// A COUNTLAB_*_FILE names a key of a mounted Secret.
				src, ok := secretMounts[path.Dir(e.Value)]
				if !ok {
					t.Errorf("%s: %s=%s is under no Secret mount", where, e.Name, e.Value)
				} else if s := l.secrets[src.SecretName]; s != nil && !secretKeys(s)[path.Base(e.Value)] {
					t.Errorf("%s: %s=%s: Secret %q has no key %q", where, e.Name, e.Value, s.Name, path.Base(e.Value))
				}
			}
		}
	}
}

func TestPodsAreHardenedAndSized(t *testing.T) {
	l := loadLayout(t, ".")
	for _, ps := range l.pods() {
		sc := ps.spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser and the RuntimeDefault seccomp profile", ps.name, sc)
		}
		if ps.meta.Labels["app.kubernetes.io/part-of"] != "countlab" {
			t.Errorf("%s: pod labels %v lack app.kubernetes.io/part-of=countlab", ps.name, ps.meta.Labels)
		}
		for _, c := range ps.spec.Containers {
			where := ps.name + " container " + c.Name
			csc := c.SecurityContext
			if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
				csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
				csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s: securityContext %+v: want readOnlyRootFilesystem, no privilege escalation, all capabilities dropped", where, csc)
			}
			if c.Image != "countlab:latest" {
				t.Errorf("%s: image %q, want the placeholder countlab:latest (kustomization images: sets the real one)", where, c.Image)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: resources %+v: want cpu and memory requests and a memory limit", where, c.Resources)
			}
		}
	}
}

// listenPort is the port of a host:port flag value.
func listenPort(t *testing.T, where, hostport string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Errorf("%s: %q is not host:port", where, hostport)
	}
	if strings.HasPrefix(hostport, "127.") || strings.HasPrefix(hostport, "localhost") {
		t.Errorf("%s: %q listens on loopback: nothing outside the pod (probes, Services) reaches it", where, hostport)
	}
	return int32(n)
}

func TestProbesAndServicesHitListeners(t *testing.T) {
	l := loadLayout(t, ".")
	// The health path of gateway and query service: GET /healthz
	// (engine/gateway PathHealth, engine/query's route); engine and sink
	// have only --metrics-listen's /metrics.
	wantPath := map[string]string{"gateway": "/healthz", "query-server": "/healthz", "engine": "/metrics", "sink": "/metrics"}
	listenFlag := map[string]string{"gateway": "listen", "query-server": "listen", "engine": "metrics-listen", "sink": "metrics-listen"}
	for _, d := range l.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			where := "Deployment " + d.Name + " container " + c.Name
			cmd := c.Args[0]
			vals := flagValues(c.Args)[listenFlag[cmd]]
			if len(vals) != 1 {
				t.Errorf("%s: --%s given %d times, want once", where, listenFlag[cmd], len(vals))
				continue
			}
			port := listenPort(t, where, vals[0])
			p := c.ReadinessProbe
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != wantPath[cmd] {
				t.Errorf("%s: readinessProbe %+v, want GET %s", where, p, wantPath[cmd])
				continue
			}
			if got := containerPort(c, p.HTTPGet.Port.String()); got != port {
				t.Errorf("%s: readiness probe port %s is %d, --%s listens on %d", where, p.HTTPGet.Port.String(), got, listenFlag[cmd], port)
			}
		}
	}
	for _, s := range l.services {
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s: type %q, want ClusterIP", s.Name, s.Spec.Type)
		}
		var match []*appsv1.Deployment
		for _, d := range l.deployments {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				match = append(match, d)
			}
		}
		if len(match) != 1 {
			t.Errorf("Service %s: selector %v matches %d Deployments, want 1", s.Name, s.Spec.Selector, len(match))
			continue
		}
		for _, sp := range s.Spec.Ports {
			if containerPort(match[0].Spec.Template.Spec.Containers[0], sp.TargetPort.String()) == 0 {
				t.Errorf("Service %s: targetPort %s is no container port of %s", s.Name, sp.TargetPort.String(), match[0].Name)
			}
		}
	}
}

// containerPort is the number of c's port named (or numbered) p, 0 when c
// has none.
func containerPort(c corev1.Container, p string) int32 {
	for _, cp := range c.Ports {
		if cp.Name == p || strconv.Itoa(int(cp.ContainerPort)) == p {
			return cp.ContainerPort
		}
	}
	return 0
}

// jobRunning is the Job whose container runs countlab cmd.
func jobRunning(t *testing.T, l *layout, cmd string) *batchv1.Job {
	t.Helper()
	for _, j := range l.jobs {
		if c := j.Spec.Template.Spec.Containers; len(c) == 1 && len(c[0].Args) > 0 && c[0].Args[0] == cmd {
			return j
		}
	}
	t.Fatalf("no Job runs countlab %s", cmd)
	return nil
}

func TestShardsAreTheCompletionIndex(t *testing.T) {
	l := loadLayout(t, ".")
	gen := jobRunning(t, l, "load")
	s := gen.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("Job %s: completionMode %v, want Indexed (the completion index is the shard)", gen.Name, s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism || *s.Completions < 1 {
		t.Fatalf("Job %s: completions %s, parallelism %s: want both the shard count", gen.Name, ptr(s.Completions), ptr(s.Parallelism))
	}
	shards := int(*s.Completions)
	vals := flagValues(gen.Spec.Template.Spec.Containers[0].Args)
	if want := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", shards); !slices.Equal(vals["shard"], []string{want}) {
		t.Errorf("Job %s: --shard %q, want %q (completions = parallelism = %d)", gen.Name, vals["shard"], want, shards)
	}
	out := vals["out"]
	if len(out) != 1 || !strings.Contains(out[0], "$(JOB_COMPLETION_INDEX)") {
		t.Fatalf("Job %s: --out %q: want one directory per shard, naming $(JOB_COMPLETION_INDEX)", gen.Name, out)
	}
	// The check reads exactly the truth of every shard, from the same claim.
	chk := jobRunning(t, l, "check")
	var want []string
	for i := range shards {
		want = append(want, strings.ReplaceAll(out[0], "$(JOB_COMPLETION_INDEX)", strconv.Itoa(i)))
	}
	if got := flagValues(chk.Spec.Template.Spec.Containers[0].Args)["truth"]; !slices.Equal(got, want) {
		t.Errorf("Job %s: --truth %q, want every shard's %q", chk.Name, got, want)
	}
	if a, b := claimsOf(gen), claimsOf(chk); len(a) != 1 || !reflect.DeepEqual(a, b) {
		t.Errorf("the generator mounts claims %v, the check %v: want the same one", a, b)
	}
	for _, j := range []*batchv1.Job{gen, chk} {
		if j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 || j.Spec.ActiveDeadlineSeconds == nil {
			t.Errorf("Job %s: backoffLimit %v, activeDeadlineSeconds %v: want 0 (a retried shard sends its events twice) and a deadline",
				j.Name, j.Spec.BackoffLimit, j.Spec.ActiveDeadlineSeconds)
		}
	}
}

// claimsOf are the claim names j's pod mounts, with their mount paths.
func claimsOf(j *batchv1.Job) map[string]string {
	vols := map[string]string{}
	for _, v := range j.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			vols[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	out := map[string]string{}
	for _, m := range j.Spec.Template.Spec.Containers[0].VolumeMounts {
		if claim, ok := vols[m.Name]; ok {
			out[claim] = m.MountPath
		}
	}
	return out
}

func TestEngineMatchesScenario(t *testing.T) {
	l := loadLayout(t, ".")
	cm := l.configMaps["countlab-scenario"]
	if cm == nil || len(cm.Data) != 1 {
		t.Fatal("ConfigMap countlab-scenario: want exactly one scenario file")
	}
	var sc *scenarios.Scenario
	for name, data := range cm.Data {
		var err error
		if sc, err = scenarios.Parse(name, []byte(data)); err != nil {
			t.Fatalf("ConfigMap countlab-scenario %s: %v", name, err)
		}
		if gen := jobRunning(t, l, "load"); !slices.Contains(gen.Spec.Template.Spec.Containers[0].Args, "/etc/countlab/scenario/"+name) {
			t.Errorf("Job %s does not run /etc/countlab/scenario/%s", gen.Name, name)
		}
	}
	// What countlab load refuses (exit 2): faults, Kafka routes.
	if len(sc.Faults) > 0 || sc.RandomFaults != nil {
		t.Errorf("the scenario has faults: a sharded generator sends traffic only")
	}
	for _, r := range sc.Traffic.RouteList() {
		if r.Via == "kafka" {
			t.Errorf("the scenario sends via Kafka: a sharded generator sends to the gateway only")
		}
	}
	e := sc.Engine
	windows := func(s string) []time.Duration {
		var ds []time.Duration
		for _, w := range strings.Split(s, ",") {
			d, err := time.ParseDuration(w)
			if err != nil {
				t.Errorf("--windows %q: %v", s, err)
			}
			ds = append(ds, d)
		}
		return ds
	}
	for _, d := range l.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		v := flagValues(c.Args)
		one := func(name string) string { return strings.Join(v[name], ",") }
		switch c.Args[0] {
		case "engine":
			if int(*d.Spec.Replicas) != e.Workers {
				t.Errorf("Deployment %s: %d replicas, the scenario's engine.workers %d", d.Name, *d.Spec.Replicas, e.Workers)
			}
			for flag, want := range map[string]time.Duration{"lateness": e.Lateness, "out-of-orderness": e.OutOfOrderness, "commit-interval": e.CommitInterval} {
				if got, err := time.ParseDuration(one(flag)); err != nil || got != want {
					t.Errorf("Deployment %s: --%s %q, the scenario's %v", d.Name, flag, one(flag), want)
				}
			}
			fallthrough
		case "query-server":
			if got := windows(one("windows")); !slices.Equal(got, e.Windows) {
				t.Errorf("Deployment %s: --windows %v, the scenario's engine.windows %v", d.Name, got, e.Windows)
			}
		case "gateway":
			if one("partitions") != strconv.Itoa(e.Partitions) {
				t.Errorf("Deployment %s: --partitions %q, the scenario's engine.partitions %d", d.Name, one("partitions"), e.Partitions)
			}
		}
	}
}

func TestEngineDisruptionBudget(t *testing.T) {
	l := loadLayout(t, ".")
	p := l.pdbs[0]
	sel := labels.SelectorFromSet(p.Spec.Selector.MatchLabels)
	var covered []string
	for _, d := range l.deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			covered = append(covered, d.Spec.Template.Spec.Containers[0].Args[0])
		}
	}
	if !slices.Equal(covered, []string{"engine"}) {
		t.Errorf("PodDisruptionBudget %s covers %v, want the engine workers only", p.Name, covered)
	}
	if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %s: maxUnavailable %v, want 1", p.Name, p.Spec.MaxUnavailable)
	}
}

// ptr is *p for a message ("unset" when nil).
func ptr(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}

// hasKey says whether m has key k.
func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
