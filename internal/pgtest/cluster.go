// Package pgtest runs the PostgreSQL that tests talk to: one private cluster
// per test binary, started on first use in a temp dir (initdb, pg_ctl, a free
// loopback port, a unix socket dir inside the temp dir) and stopped when the
// tests end, with a fresh schema per test. When HOOKLET_TEST_DATABASE_URL is
// set, that database is used instead and no cluster is started.
//
// Binaries are found through pg_config --bindir, then the newest
// /usr/lib/postgresql/*/bin, then PATH. When none is found the tests fail
// with a message saying how to install them; they never skip.
//
// A watchdog process outlives the test binary and stops the cluster and
// removes its temp dir if the binary dies without doing so itself (a panic,
// a test timeout, kill -9), so no server is ever left behind.
//
// [NewBouncer] puts a PgBouncer in transaction pooling mode in front of a
// database, for tests of hosts behind a transaction pooler. It is stopped
// at cleanup, and with the test binary however that ends.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvDatabaseURL names the environment variable that points the tests at an
// existing database instead of a private cluster.
const EnvDatabaseURL = "HOOKLET_TEST_DATABASE_URL"

// tempPrefix names the temp dirs of private clusters, so that stale ones can
// be found and removed.
const tempPrefix = "hooklet-pgtest-"

// Cluster is a private PostgreSQL cluster in a temp dir, run by this process.
type Cluster struct {
	bin    string // directory holding initdb, pg_ctl, postgres
	dir    string // temp dir: data, sock, log
	port   int
	asUser []string // command prefix to run as the postgres user, or nil
	reaper *exec.Cmd
}

// StartCluster creates and starts a new private cluster. The caller stops it
// with [Cluster.Destroy].
func StartCluster() (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: temp dir: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sock"), 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: run the server as the postgres user.
		if err := c.chownToPostgres(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	c.startReaper()
	if out, err := c.run(filepath.Join(bin, "initdb"), "--no-sync", "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--locale=C", "-D", c.dataDir()); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port picked free may be taken before the server binds it: retry
	// with another.
	for try := 0; ; try++ {
		c.port, err = freePort()
		if err == nil {
			err = c.Start()
		}
		if err == nil {
			return c, nil
		}
		if try == 4 {
			c.Destroy()
			return nil, err
		}
	}
}

// ConnString returns a connection string for the cluster's postgres
// database over loopback TCP.
func (c *Cluster) ConnString() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start() error {
	opts := strings.Join([]string{
		"-p", strconv.Itoa(c.port),
		"-k", c.sockDir(),
		"-c listen_addresses=127.0.0.1",
		"-c fsync=on -c synchronous_commit=on",
		"-c shared_buffers=256MB",
		"-c max_connections=300",
		"-c log_min_messages=warning",
	}, " ")
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-l", filepath.Join(c.dir, "postgres.log"),
		"-w", "-t", "60", "-o", opts, "start")
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		return fmt.Errorf("pgtest: pg_ctl start on port %d: %w\n%s\n%s", c.port, err, out, tail(log, 2000))
	}
	return nil
}

// Stop stops the server (fast shutdown: open sessions are disconnected).
func (c *Cluster) Stop() error {
	if out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Restart stops and starts the server, disconnecting every session.
func (c *Cluster) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start()
}

// Destroy stops the server if it runs and removes the temp dir. It is safe
// to call more than once.
func (c *Cluster) Destroy() {
	if _, err := os.Stat(filepath.Join(c.dataDir(), "postmaster.pid")); err == nil {
		if _, err := c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "30", "stop"); err != nil {
			killPostmaster(c.dataDir())
		}
	}
	_ = os.RemoveAll(c.dir)
	if c.reaper != nil && c.reaper.Process != nil {
		_ = c.reaper.Process.Kill()
		_ = c.reaper.Wait()
		c.reaper = nil
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) sockDir() string { return filepath.Join(c.dir, "sock") }

// run runs a PostgreSQL program, as the postgres user when this process is
// root, and returns its combined output.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(slices.Clone(c.asUser), name)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	// pg_ctl's server must not hold our stdout open, or the go tool would
	// wait for it.
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// chownToPostgres hands the temp dir to the postgres user and arranges for
// the PostgreSQL programs to run as that user.
func (c *Cluster) chownToPostgres() error {
	uid, gid, err := postgresIDs()
	if err != nil {
		return err
	}
	if err := chownTree(c.dir, uid, gid); err != nil {
		return err
	}
	if p, err := exec.LookPath("runuser"); err == nil {
		c.asUser = []string{p, "-u", "postgres", "--"}
		return nil
	}
	if p, err := exec.LookPath("setpriv"); err == nil {
		id := func(n int) string { return strconv.Itoa(n) }
		c.asUser = []string{p, "--reuid=" + id(uid), "--regid=" + id(gid), "--init-groups", "--"}
		return nil
	}
	return errors.New("pgtest: running as root needs runuser or setpriv to run the server as the postgres user")
}

// postgresIDs returns the user and group IDs of the postgres user, which
// runs the server and PgBouncer when the tests run as root (both refuse
// root).
func postgresIDs() (uid, gid int, err error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("pgtest: running as root needs a 'postgres' user to run the server and pgbouncer (they refuse root): %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// chownTree hands dir and everything in it to uid and gid.
func chownTree(dir string, uid, gid int) error {
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("pgtest: chown %s: %w", dir, err)
	}
	return nil
}

// reaperScript waits for the test binary to exit, then stops the cluster
// and removes its temp dir. Arguments: owner pid, temp dir, then the
// command that stops the server.
const reaperScript = `owner=$1; dir=$2; shift 2
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
if [ -f "$dir/data/postmaster.pid" ]; then "$@" >/dev/null 2>&1; fi
rm -rf "$dir"`

// startReaper starts the watchdog in its own session, so that it survives
// the test binary and its process group.
func (c *Cluster) startReaper() {
	argv := []string{"-c", reaperScript, "reaper", strconv.Itoa(os.Getpid()), c.dir}
	argv = append(argv, c.asUser...)
	argv = append(argv, filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "30", "stop")
	cmd := exec.Command("/bin/sh", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		c.reaper = cmd
	}
}

// findBinaries returns the directory holding initdb and pg_ctl.
func findBinaries() (string, error) {
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) }) // newest first
	candidates = append(candidates, dirs...)
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config --bindir, " +
		"/usr/lib/postgresql/*/bin or PATH; install them (Debian: apt-get install -y postgresql) " +
		"or set " + EnvDatabaseURL + " to a database the tests may use")
}

// versionOf extracts N from /usr/lib/postgresql/N/bin.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port, nil
}

// removeStale stops and removes clusters left by test binaries that died
// with their watchdog.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		killPostmaster(filepath.Join(dir, "data"))
		_ = os.RemoveAll(dir)
	}
}

// killPostmaster stops the postmaster of a data dir with SIGQUIT
// (immediate shutdown), if it runs.
func killPostmaster(data string) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
