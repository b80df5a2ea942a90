package webhook

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// netnsEnv marks the copy of the test binary that runs inside a private
// network namespace.
const netnsEnv = "HOOKLET_TEST_IN_NETNS"

// TestDialGuardInNetworkNamespace dials, through the default transport,
// addresses that are not loopback by name but reach this machine: the
// IPv6 forms that embed or tunnel to an IPv4 address. Those addresses, and
// two public ones as controls, exist only on the loopback interface of a
// private network namespace: the test binary re-executes itself under
// "unshare -n", so nothing, not even a DNS query, leaves the machine.
func TestDialGuardInNetworkNamespace(t *testing.T) {
	t.Parallel()
	if os.Getenv(netnsEnv) == "1" {
		dialGuardInNetns(t)
		return
	}
	if reason := netnsUnavailable(); reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the network namespace test: %s", reason)
		}
		t.Skipf("cannot run in a private network namespace: %s", reason)
	}
	const name = "TestDialGuardInNetworkNamespace"
	cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "in the namespace:\n%s", out)
	require.Contains(t, string(out), "--- PASS: "+name, "the test ran in the namespace:\n%s", out)
}

// netnsUnavailable says why a private network namespace cannot be made
// here, or returns "".
func netnsUnavailable() string {
	if os.Geteuid() != 0 {
		return "unshare -n needs root"
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed"
		}
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		return "unshare -n fails: " + strings.TrimSpace(string(out))
	}
	return ""
}

// dialGuardInNetns runs inside the namespace.
func dialGuardInNetns(t *testing.T) {
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(links)), "\n") {
		require.Contains(t, line, ": lo:", "a private namespace has only the loopback interface: %s", links)
	}
	ipCmd(t, "link", "set", "lo", "up")

	refused := map[string]string{
		"IPv4Compatible":   "::7f00:1",
		"IPv4Translated":   "::ffff:0:7f00:1",
		"Teredo":           "2001:0:4136:e378:8000:63bf:80ff:fffe",
		"NAT64LocalPrefix": "64:ff9b:1:7f00:0:100:5db8:d822",
		"NAT64Local96":     "64:ff9b:1::7f00:1",
	}
	allowed := map[string]string{
		"PublicIPv4": "93.184.216.34",
		"PublicIPv6": "2606:2800:220:1::1",
	}
	for _, addrs := range []map[string]string{refused, allowed} {
		for _, a := range addrs {
			prefix := "/128"
			if !strings.Contains(a, ":") {
				prefix = "/32"
			}
			ipCmd(t, "addr", "add", a+prefix, "dev", "lo", "nodad")
		}
	}
	// The kernel installs an address's local route a moment after "ip addr
	// add" returns; wait, a bounded number of times, until each one routes.
	for _, addrs := range []map[string]string{refused, allowed} {
		for _, a := range addrs {
			for i := 0; ; i++ {
				out, err := exec.Command("ip", "route", "get", a).CombinedOutput()
				if err == nil && strings.Contains(string(out), "dev lo") {
					break
				}
				require.Less(t, i, 1000, "%s never routes: %s", a, out)
				runtime.Gosched()
			}
		}
	}

	tr := newTransport(false, 1)
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for name, a := range refused {
		t.Run(name, func(t *testing.T) {
			srv, conns := listenOn(t, a)
			resp, err := client.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{}`)))
			if resp != nil {
				resp.Body.Close()
			}
			require.Error(t, err, "%s was reached", a)
			require.True(t, errors.Is(err, ErrAddressNotAllowed), "%s: %v", a, err)
			require.Zero(t, conns.Load(), "no connection reached %s", a)
		})
	}
	for name, a := range allowed {
		t.Run(name, func(t *testing.T) {
			srv, conns := listenOn(t, a)
			resp, err := client.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{}`)))
			require.NoError(t, err, "%s is public", a)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, int64(1), conns.Load())
		})
	}
}

// listenOn starts a server on addr and counts the connections it accepts.
func listenOn(t *testing.T, addr string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	require.NoError(t, err)
	conns := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.NoError(t, srv.Listener.Close())
	srv.Listener = l
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}
