package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/admin"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/store/pgstore"
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u) || errors.Is(err, flag.ErrHelp)
}

// cli holds the global options and the open store of one invocation.
type cli struct {
	stdout, stderr io.Writer
	db, pg         string
	json           bool

	store webhook.Store
	d     *webhook.Dispatcher
	close func()
}

// globalFlags adds -db, -pg and -json to fs.
func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", c.db, "bbolt `file` of the host")
	fs.StringVar(&c.pg, "pg", c.pg, "PostgreSQL `dsn` of the host")
	fs.BoolVar(&c.json, "json", c.json, "print JSON instead of a table")
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func (c *cli) run(ctx context.Context, args []string) error {
	fs := newFlagSet("hooklet")
	c.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() == 0 {
		return usagef("no command")
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	cmd, ok := commands[name]
	if !ok {
		return usagef("unknown command %q", name)
	}
	return cmd(c, ctx, rest)
}

// parse parses a command's flags (with the global ones) and wants exactly
// nargs positional arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string, nargs int) ([]string, error) {
	c.globalFlags(fs)
	// Flags may come after the positional argument: "delivery ID -json".
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != nargs {
		return nil, usagef("%s: want %d argument(s), got %d", fs.Name(), nargs, len(pos))
	}
	return pos, nil
}

// open opens the store named by -db or -pg and a Dispatcher over it. The
// Dispatcher is not started: commands read and change the store, and the
// host's Dispatchers deliver.
func (c *cli) open(ctx context.Context, cfg webhook.Config) error {
	switch {
	case c.db != "" && c.pg != "":
		return usagef("give -db or -pg, not both")
	case c.db != "":
		st, err := boltstore.Open(c.db, &boltstore.Options{Timeout: 2 * time.Second})
		if err != nil {
			return fmt.Errorf("open %s: %w", c.db, err)
		}
		c.store, c.close = st, func() { _ = st.Close() }
	case c.pg != "":
		pool, err := pgxpool.New(ctx, c.pg)
		if err != nil {
			return fmt.Errorf("connect to PostgreSQL: %w", err)
		}
		st, err := pgstore.New(ctx, pool, nil)
		if err != nil {
			pool.Close()
			return err
		}
		c.store, c.close = st, func() { _ = st.Close(); pool.Close() }
	default:
		return usagef("give -db FILE or -pg DSN")
	}
	cfg.Store = c.store
	d, err := webhook.New(cfg)
	if err != nil {
		c.close()
		return err
	}
	c.d = d
	closeStore := c.close
	c.close = func() { _ = d.Close(context.Background()); closeStore() }
	return nil
}

// commands are the subcommands by name.
var commands = map[string]func(c *cli, ctx context.Context, args []string) error{
	"endpoints":        (*cli).endpoints,
	"deliveries":       (*cli).deliveries,
	"delivery":         (*cli).delivery,
	"redeliver":        (*cli).redeliver,
	"redeliver-failed": (*cli).redeliverFailed,
	"prune":            (*cli).prune,
	"serve":            (*cli).serve,
}

func (c *cli) endpoints(ctx context.Context, args []string) error {
	fs := newFlagSet("endpoints")
	tenant := fs.String("tenant", "", "only this tenant's endpoints")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	var all []webhook.Endpoint
	p := &webhook.ListEndpointsParams{Tenant: *tenant, Limit: 500}
	for {
		page, err := c.d.Endpoints(ctx, p)
		if err != nil {
			return err
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	if c.json {
		return writeJSON(c.stdout, listing(all, ""))
	}
	t := newTable(c.stdout, "ID", "TENANT", "URL", "EVENT TYPES", "STATUS", "UPDATED")
	for _, ep := range all {
		status := "enabled"
		if ep.Disabled {
			status = "disabled"
			if ep.DisabledReason != "" {
				status += " (" + ep.DisabledReason + ")"
			}
		}
		types := strings.Join(ep.EventTypes, ",")
		if types == "" {
			types = "*"
		}
		t.row(ep.ID, ep.Tenant, ep.URL, types, status, stamp(ep.UpdatedAt))
	}
	return t.flush()
}

func (c *cli) deliveries(ctx context.Context, args []string) error {
	fs := newFlagSet("deliveries")
	state := fs.String("state", "", "pending, succeeded, failed or skipped")
	endpoint := fs.String("endpoint", "", "only this endpoint's deliveries")
	event := fs.String("event", "", "only this event's deliveries")
	eventType := fs.String("type", "", "only the deliveries of events of this type")
	limit := fs.Int("limit", 50, "page size")
	cursor := fs.String("cursor", "", "cursor of the page to show")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	switch webhook.DeliveryState(*state) {
	case "", webhook.StatePending, webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped:
	default:
		return usagef("deliveries: -state must be pending, succeeded, failed or skipped")
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	page, err := c.d.Deliveries(ctx, &webhook.ListDeliveriesParams{State: webhook.DeliveryState(*state),
		EndpointID: *endpoint, EventID: *event, EventType: *eventType, Cursor: *cursor, Limit: *limit})
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, listing(page.Items, page.Next))
	}
	t := newTable(c.stdout, "ID", "EVENT", "ENDPOINT", "STATE", "ATTEMPTS", "LAST", "UPDATED")
	for _, dl := range page.Items {
		t.row(dl.ID, dl.EventID, dl.EndpointID, string(dl.State), fmt.Sprint(dl.Attempts), last(dl), stamp(dl.UpdatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(c.stderr, "more: -cursor %s\n", page.Next)
	}
	return nil
}

func (c *cli) delivery(ctx context.Context, args []string) error {
	pos, err := c.parse(newFlagSet("delivery"), args, 1)
	if err != nil {
		return err
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	dl, err := c.d.Delivery(ctx, pos[0])
	if err != nil {
		return err
	}
	var atts []webhook.Attempt
	p := &webhook.ListAttemptsParams{DeliveryID: dl.ID, Limit: 500}
	for {
		page, err := c.d.Attempts(ctx, p)
		if err != nil {
			return err
		}
		atts = append(atts, page.Items...)
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	var reps []webhook.Report
	rp := &webhook.ListReportsParams{DeliveryID: dl.ID, Limit: 500}
	for {
		page, err := c.d.Reports(ctx, rp)
		if err != nil {
			return err
		}
		reps = append(reps, page.Items...)
		if page.Next == "" {
			break
		}
		rp.Cursor = page.Next
	}
	ev, err := c.d.Event(ctx, dl.EventID)
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, struct {
			Delivery webhook.Delivery  `json:"delivery"`
			Event    *webhook.Event    `json:"event,omitempty"`
			Attempts []webhook.Attempt `json:"attempts"`
			Reports  []webhook.Report  `json:"reports,omitempty"`
		}{dl, eventOrNil(ev), nonNil(atts), reps})
	}
	kv := newTable(c.stdout)
	kv.row("delivery", dl.ID)
	kv.row("event", strings.TrimSpace(dl.EventID+" "+ev.Type))
	kv.row("endpoint", dl.EndpointID)
	kv.row("state", string(dl.State))
	kv.row("attempts", fmt.Sprint(dl.Attempts))
	switch {
	case dl.AwaitingReport:
		kv.row("awaiting report until", stamp(dl.NextAttemptAt))
	case dl.State == webhook.StatePending:
		kv.row("next attempt", stamp(dl.NextAttemptAt))
	}
	kv.row("created", stamp(dl.CreatedAt))
	kv.row("updated", stamp(dl.UpdatedAt))
	if err := kv.flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	t := newTable(c.stdout, "#", "STARTED", "STATUS", "DURATION", "CLASS", "ERROR", "RESPONSE")
	for _, a := range atts {
		status := "-"
		if a.StatusCode != 0 {
			status = fmt.Sprint(a.StatusCode)
		}
		t.row(fmt.Sprint(a.Number), stamp(a.StartedAt), status, a.Duration.Round(time.Microsecond).String(),
			string(a.ErrorClass), a.Error, snippet(a.ResponseBody))
	}
	if err := t.flush(); err != nil || len(reps) == 0 {
		return err
	}
	fmt.Fprintln(c.stdout)
	rt := newTable(c.stdout, "REPORT", "RECEIVED", "ATTEMPT", "STATUS", "PROGRESS", "MESSAGE")
	for _, r := range reps {
		rt.row(fmt.Sprint(r.Number), stamp(r.ReceivedAt), fmt.Sprint(r.Attempt), string(r.Status),
			fmt.Sprintf("%.0f%%", 100*r.Progress), r.Message)
	}
	return rt.flush()
}

func (c *cli) redeliver(ctx context.Context, args []string) error {
	pos, err := c.parse(newFlagSet("redeliver"), args, 1)
	if err != nil {
		return err
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	if err := c.d.Redeliver(ctx, pos[0]); err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, map[string]any{"redelivered": 1})
	}
	fmt.Fprintf(c.stdout, "redelivered %s\n", pos[0])
	return nil
}

// parseSince reads an RFC 3339 instant or a duration before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usagef("-since %q: want an RFC 3339 time or a duration such as 24h", v)
	}
	return t, nil
}

func (c *cli) redeliverFailed(ctx context.Context, args []string) error {
	fs := newFlagSet("redeliver-failed")
	endpoint := fs.String("endpoint", "", "the endpoint (required)")
	sinceFlag := fs.String("since", "", "only deliveries that failed at or after this time")
	fresh := fs.Bool("fresh-schedule", false, "restart each delivery's retry schedule (default: one attempt once it is used up)")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *endpoint == "" {
		return usagef("redeliver-failed: -endpoint is required")
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	if _, err := c.d.Endpoint(ctx, *endpoint); err != nil {
		return fmt.Errorf("endpoint %s: %w", *endpoint, err)
	}
	n, err := c.d.RedeliverFailed(ctx, *endpoint, since, &webhook.RedeliverOptions{FreshSchedule: *fresh})
	if err != nil {
		return fmt.Errorf("after %d: %w", n, err)
	}
	if c.json {
		return writeJSON(c.stdout, map[string]any{"redelivered": n})
	}
	fmt.Fprintf(c.stdout, "redelivered %d failed deliveries of %s\n", n, *endpoint)
	return nil
}

func (c *cli) prune(ctx context.Context, args []string) error {
	fs := newFlagSet("prune")
	age := fs.Duration("age", 0, "delete finished deliveries older than this (required), e.g. 720h")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *age <= 0 {
		return usagef("prune: -age is required and must be positive")
	}
	if err := c.open(ctx, webhook.Config{}); err != nil {
		return err
	}
	defer c.close()
	n, err := c.d.Prune(ctx, *age)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, map[string]any{"pruned": n})
	}
	fmt.Fprintf(c.stdout, "pruned %d deliveries\n", n)
	return nil
}

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := newFlagSet("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	deliver := fs.Bool("deliver", false, "also run a delivery engine, so that replays are sent by this process")
	allowPrivate := fs.Bool("allow-private-networks", false, "with -deliver, let deliveries reach private and loopback addresses")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if err := c.open(ctx, webhook.Config{AllowPrivateNetworks: *allowPrivate}); err != nil {
		return err
	}
	defer c.close()
	if *deliver {
		if err := c.d.Start(ctx); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: admin.NewHandler(c.d, nil), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(c.stdout, "serving the admin console on http://%s/\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
