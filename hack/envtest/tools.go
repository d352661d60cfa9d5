//go:build tools

// Package tools anchors the dependencies of this build-only module so that
// `go mod tidy` keeps them. Nothing here is ever compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "sigs.k8s.io/gateway-api/pkg/consts"
)
