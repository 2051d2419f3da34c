//go:build tools

// Package deps pins containerd's devmapper packages and the imports of their
// tests, so that `go mod tidy` keeps every requirement `go test -c` needs for
// them. It is never built (the tools tag is never set).
package deps

import (
	_ "github.com/containerd/containerd/v2/core/mount"
	_ "github.com/containerd/containerd/v2/core/snapshots"
	_ "github.com/containerd/containerd/v2/core/snapshots/testsuite"
	_ "github.com/containerd/containerd/v2/pkg/namespaces"
	_ "github.com/containerd/containerd/v2/pkg/testutil"
	_ "github.com/containerd/containerd/v2/plugins/snapshots/devmapper"
	_ "github.com/containerd/containerd/v2/plugins/snapshots/devmapper/dmsetup"
	_ "github.com/containerd/continuity/fs/fstest"
	_ "github.com/containerd/log"
	_ "github.com/docker/go-units"
	_ "github.com/pelletier/go-toml/v2"
	_ "github.com/stretchr/testify/assert"
	_ "github.com/stretchr/testify/require"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/sys/unix"
)
