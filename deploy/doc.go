// Package deploy holds the files that deploy the server: Kubernetes
// manifests in k8s/ (the Dockerfile and compose.yaml are at the module root).
// It has no Go code of its own; its test keeps those files consistent with
// the code: every variable they set is a setting of app.Config and passes its
// production checks, the probes are routes of the router, the ports are the
// ones the server listens on, the user is numeric and non-root, the
// subcommands exist, and the binary the Dockerfile builds is static.
package deploy
