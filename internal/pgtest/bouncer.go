package pgtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// bouncerPath is where Debian's pgbouncer package installs the binary.
const bouncerPath = "/usr/sbin/pgbouncer"

// Bouncer is a PgBouncer in transaction pooling mode in front of a
// database, run by this process: what a host behind a transaction pooler
// talks to. Sessions do not survive a transaction: LISTEN, session
// advisory locks and prepared statements land on whichever server
// connection served the transaction.
type Bouncer struct {
	cmd    *exec.Cmd
	dir    string
	port   int
	user   string
	db     string
	exited chan struct{} // closed when the process has exited
}

// NewBouncer starts a PgBouncer in transaction pooling mode in front of the
// database of connString, on a free loopback port, stopped at cleanup.
// When the pgbouncer binary is missing, it fails the test in CI (CI set in
// the environment) and skips it elsewhere, saying how to install it.
func NewBouncer(t testing.TB, connString string) *Bouncer {
	t.Helper()
	bin, err := findBouncer()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v (CI fails here)", err)
	}
	b, err := StartBouncer(bin, connString)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(b.Stop)
	return b
}

// ConnString returns a connection string for the database through the
// bouncer, over loopback TCP. The pool it configures prepares statements
// (pgx's default), which transaction pooling breaks: tests set the mode
// they need.
func (b *Bouncer) ConnString() string {
	u := url.URL{Scheme: "postgres", User: url.User(b.user), Host: "127.0.0.1:" + strconv.Itoa(b.port),
		Path: "/" + b.db, RawQuery: "sslmode=disable"}
	return u.String()
}

// findBouncer returns the path of the pgbouncer binary.
func findBouncer() (string, error) {
	if isExec(bouncerPath) {
		return bouncerPath, nil
	}
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	return "", errors.New("pgtest: pgbouncer not found at " + bouncerPath + " or in PATH; " +
		"install it (Debian: apt-get install -y pgbouncer)")
}

// StartBouncer starts bin (a pgbouncer binary) in front of the database of
// connString and waits until it accepts connections. The caller stops it
// with [Bouncer.Stop].
func StartBouncer(bin, connString string) (*Bouncer, error) {
	target, err := pgconn.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgtest: bouncer target: %w", err)
	}
	dir, err := os.MkdirTemp("", tempPrefix+"bouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: temp dir: %w", err)
	}
	// Found by removeStale if this process dies without stopping it.
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root.
		uid, gid, err := postgresIDs()
		if err == nil {
			err = chownTree(dir, uid, gid)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// A port picked free may be taken before pgbouncer binds it: retry
	// with another.
	for try := 0; ; try++ {
		b := &Bouncer{dir: dir, user: target.User, db: target.Database}
		b.port, err = freePort()
		if err == nil {
			err = b.start(bin, target, cred)
		}
		if err == nil {
			return b, nil
		}
		if try == 4 {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
}

// start writes the configuration and runs pgbouncer until it is up.
func (b *Bouncer) start(bin string, target *pgconn.Config, cred *syscall.Credential) error {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	server := fmt.Sprintf("host=%s port=%d dbname=%s user=%s", quote(target.Host), target.Port,
		quote(target.Database), quote(target.User))
	if target.Password != "" {
		server += " password=" + quote(target.Password)
	}
	userlist := filepath.Join(b.dir, "userlist.txt")
	ini := filepath.Join(b.dir, "pgbouncer.ini")
	conf := strings.Join([]string{
		"[databases]",
		b.db + " = " + server,
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(b.port),
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + userlist,
		"pool_mode = transaction",
		// Fewer server connections than the clients open, so that
		// consecutive transactions of one client do land on different
		// server connections.
		"default_pool_size = 16",
		"max_client_conn = 1000",
		"logfile = " + filepath.Join(b.dir, "pgbouncer.log"),
		"log_connections = 0",
		"log_disconnections = 0",
		"",
	}, "\n")
	if err := os.WriteFile(userlist, []byte(fmt.Sprintf("%q \"\"\n", target.User)), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := chownTree(b.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.Command(bin, ini)
	cmd.Dir = b.dir
	// Pdeathsig: pgbouncer ends with this process, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start pgbouncer: %w", err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	up := make(chan struct{})
	var log strings.Builder // until up; then the pipe is drained
	go func() {
		sc := bufio.NewScanner(stderr)
		for isUp := false; sc.Scan(); {
			if isUp {
				continue
			}
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "process up") {
				close(up)
				isUp = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(b.exited)
	}()
	select {
	case <-up:
		return nil
	case <-b.exited:
		return fmt.Errorf("pgtest: pgbouncer on port %d exited before it was up:\n%s", b.port, log.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-b.exited
		return fmt.Errorf("pgtest: pgbouncer on port %d not up within 30s", b.port)
	}
}

// Stop stops pgbouncer, closing every client connection, and removes its
// temp dir. It is safe to call more than once.
func (b *Bouncer) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	}
	_ = os.RemoveAll(b.dir)
}
