// Package k8s holds countlab's cluster layout: the Kubernetes manifests in
// this directory (kubectl apply -k deploy/k8s, then deploy/k8s/check) and
// the test that decodes every one of them strictly into the Kubernetes API
// types and checks them against countlab's own flags. The package has no
// code; README "Cluster layout (Kubernetes)" describes the layout.
package k8s
