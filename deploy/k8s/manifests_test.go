package k8s_test

// Strict decoding: every YAML document of every manifest into the API type
// its apiVersion/kind names, with unknown fields refused, so a typo in a
// field name fails the test instead of being dropped by the API server.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization the layout uses;
// decoding strictly into it refuses any other field.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// layout is every object of the manifests, by kind.
type layout struct {
	kustomizations map[string]*kustomization // by directory
	namespaces     []*corev1.Namespace
	deployments    []*appsv1.Deployment
	jobs           []*batchv1.Job
	services       []*corev1.Service
	configMaps     map[string]*corev1.ConfigMap
	secrets        map[string]*corev1.Secret
	claims         map[string]*corev1.PersistentVolumeClaim
	pdbs           []*policyv1.PodDisruptionBudget
	files          []string // every manifest file, relative
}

// loadLayout decodes every *.yaml under dir strictly.
func loadLayout(t *testing.T, dir string) *layout {
	t.Helper()
	l := &layout{kustomizations: map[string]*kustomization{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, claims: map[string]*corev1.PersistentVolumeClaim{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		l.files = append(l.files, rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, doc := range splitDocs(data) {
			if err := l.add(filepath.Dir(rel), doc); err != nil {
				return fmt.Errorf("%s, document %d: %w", rel, i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(l.files)
	return l
}

// splitDocs splits a YAML stream at its "---" lines, dropping documents
// that hold only comments.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		for _, line := range strings.Split(cur.String(), "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				docs = append(docs, append([]byte(nil), cur.Bytes()...))
				break
			}
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

// add decodes one document into the type its apiVersion and kind name.
func (l *layout) add(dir string, doc []byte) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		k := &kustomization{}
		l.kustomizations[dir], obj = k, k
	case "v1 Namespace":
		obj = appendNew(&l.namespaces)
	case "apps/v1 Deployment":
		obj = appendNew(&l.deployments)
	case "batch/v1 Job":
		obj = appendNew(&l.jobs)
	case "v1 Service":
		obj = appendNew(&l.services)
	case "policy/v1 PodDisruptionBudget":
		obj = appendNew(&l.pdbs)
	case "v1 ConfigMap", "v1 Secret", "v1 PersistentVolumeClaim":
		obj = l.named(tm.Kind)
	default:
		return fmt.Errorf("apiVersion %q kind %q: not a kind this layout uses (add it to the test)", tm.APIVersion, tm.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return l.index(obj)
}

// appendNew appends a new T to *list and returns it.
func appendNew[T any](list *[]*T) *T {
	o := new(T)
	*list = append(*list, o)
	return o
}

// named is a new object of a kind kept by name.
func (l *layout) named(kind string) any {
	switch kind {
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "Secret":
		return &corev1.Secret{}
	}
	return &corev1.PersistentVolumeClaim{}
}

// index files a decoded object kept by name, refusing a second of the same
// kind and name.
func (l *layout) index(obj any) error {
	dup := func(kind, name string, seen bool) error {
		if seen || name == "" {
			return fmt.Errorf("%s %q: empty or defined twice", kind, name)
		}
		return nil
	}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		_, seen := l.configMaps[o.Name]
		l.configMaps[o.Name] = o
		return dup("ConfigMap", o.Name, seen)
	case *corev1.Secret:
		_, seen := l.secrets[o.Name]
		l.secrets[o.Name] = o
		return dup("Secret", o.Name, seen)
	case *corev1.PersistentVolumeClaim:
		_, seen := l.claims[o.Name]
		l.claims[o.Name] = o
		return dup("PersistentVolumeClaim", o.Name, seen)
	}
	return nil
}

// podSpec is one workload's pod template, named for messages.
type podSpec struct {
	name string
	spec *corev1.PodSpec
	meta *metav1.ObjectMeta
}

// pods are the pod templates of every Deployment and Job.
func (l *layout) pods() []podSpec {
	var ps []podSpec
	for _, d := range l.deployments {
		ps = append(ps, podSpec{"Deployment " + d.Name, &d.Spec.Template.Spec, &d.Spec.Template.ObjectMeta})
	}
	for _, j := range l.jobs {
		ps = append(ps, podSpec{"Job " + j.Name, &j.Spec.Template.Spec, &j.Spec.Template.ObjectMeta})
	}
	return ps
}

func TestManifestsDecodeStrictly(t *testing.T) {
	l := loadLayout(t, ".")
	if len(l.deployments) != 4 || len(l.jobs) != 2 || len(l.services) != 2 || len(l.pdbs) != 1 || len(l.namespaces) != 1 {
		t.Errorf("decoded %d Deployments, %d Jobs, %d Services, %d PodDisruptionBudgets, %d Namespaces; want 4, 2, 2, 1, 1",
			len(l.deployments), len(l.jobs), len(l.services), len(l.pdbs), len(l.namespaces))
	}
	// A typo in a field name is refused, not dropped.
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := (&layout{}).add(".", bad); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("a misspelt field decoded: %v", err)
	}
}

func TestKustomizationsListEveryManifest(t *testing.T) {
	l := loadLayout(t, ".")
	if got := keys(l.kustomizations); !slices.Equal(got, []string{".", "check", "load"}) {
		t.Fatalf("kustomizations in %v, want . (the stack), load and check", got)
	}
	listed := map[string]bool{}
	for dir, k := range l.kustomizations {
		if k.Namespace != "countlab" || l.namespaces[0].Name != k.Namespace {
			t.Errorf("%s/kustomization.yaml: namespace %q, the Namespace is %q", dir, k.Namespace, l.namespaces[0].Name)
		}
		if len(k.Images) != 1 || k.Images[0].Name != "countlab" {
			t.Errorf("%s/kustomization.yaml: images %+v, want the one placeholder countlab", dir, k.Images)
		}
		for _, r := range k.Resources {
			p := filepath.Join(dir, r)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s/kustomization.yaml lists %s: %v", dir, r, err)
			}
			listed[p] = true
		}
	}
	for _, f := range l.files {
		if filepath.Base(f) != "kustomization.yaml" && !listed[f] {
			t.Errorf("%s is in no kustomization's resources", f)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
