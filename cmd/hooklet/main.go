// Command hooklet is the operator CLI of Hooklet. It reads and acts on the
// store of a host's Dispatcher: a bbolt file (-db, while the host is
// stopped: bbolt allows one process at a time) or a PostgreSQL database
// (-pg, beside the running replicas).
//
//	hooklet -db hooklet.db endpoints
//	hooklet -db hooklet.db deliveries -state failed -endpoint ep_1
//	hooklet -db hooklet.db delivery dlv_...
//	hooklet -pg "$DATABASE_URL" redeliver dlv_...
//	hooklet -pg "$DATABASE_URL" redeliver-failed -endpoint ep_1 -since 24h
//	hooklet -db hooklet.db prune -age 720h
//	hooklet -pg "$DATABASE_URL" serve -addr 127.0.0.1:8080
//
// Every listing prints an aligned table, or JSON with -json.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	err := c.run(ctx, args)
	switch {
	case err == nil:
		return 0
	case isUsage(err):
		fmt.Fprintln(stderr, "hooklet:", err)
		fmt.Fprint(stderr, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "hooklet:", err)
		return 1
	}
}

const usage = `usage: hooklet (-db FILE | -pg DSN) [-json] COMMAND [flags]

commands:
  endpoints [-tenant T]                       list endpoints
  deliveries [-state S] [-endpoint ID]        list deliveries (-type, -event, -limit, -cursor)
  delivery ID                                 show a delivery with its attempts
  redeliver ID                                send a finished delivery again
  redeliver-failed -endpoint ID [-since T]    send every failed delivery of an endpoint
                                              again (T: RFC 3339, or a duration ago: 24h;
                                              -fresh-schedule restarts their retries)
  prune -age D                                delete finished deliveries older than D
  serve [-addr 127.0.0.1:8080] [-deliver]     serve the admin console and API

-db, -pg and -json may also follow the command.
`
