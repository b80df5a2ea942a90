package signature_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOnlyStandardLibrary keeps the package a leaf: a receiver that
// imports it must not link anything outside the standard library.
func TestOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command must be on PATH")
	const pkg = "github.com/hooklet/webhook/signature"
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pkg).CombinedOutput()
	require.NoError(t, err, "go list: %s", out)

	var outside []string
	n := 0
	for line := range strings.Lines(string(out)) {
		path, std, ok := strings.Cut(strings.TrimSpace(line), " ")
		require.True(t, ok, "unexpected go list line %q", line)
		n++
		if path != pkg && std != "true" {
			outside = append(outside, path)
		}
	}
	require.Greater(t, n, 10, "go list listed too few packages to be believed")
	require.Empty(t, outside, "%s depends on packages outside the standard library", pkg)
}
