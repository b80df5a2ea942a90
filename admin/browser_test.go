package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
)

// browserTimeout bounds the whole browser test.
const browserTimeout = 90 * time.Second

// chromiumPath finds the browser: CHROME_PATH, else Debian's chromium on
// PATH. Without one the test fails in CI and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: install Debian's chromium package or set CHROME_PATH")
	}
	t.Skip("chromium not found: install Debian's chromium package (apt-get install chromium) or set CHROME_PATH to run the browser test")
	return ""
}

// outcomeStore reports each recorded outcome of the wrapped store.
type outcomeStore struct {
	webhook.Store
	outcomes chan webhook.Outcome
}

func (s *outcomeStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	res, err := s.Store.Complete(ctx, p)
	if err == nil {
		for _, o := range p.Outcomes {
			s.outcomes <- o
		}
	}
	return res, err
}

// flakyReceiver answers 500 to its first request and 200 afterwards.
type flakyReceiver struct {
	mu    sync.Mutex
	calls int
}

func (rc *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	rc.calls++
	n := rc.calls
	rc.mu.Unlock()
	if n == 1 {
		http.Error(w, "<b>temporarily</b> down", http.StatusInternalServerError)
		return
	}
	_, _ = fmt.Fprintln(w, `{"ok":true}`)
}

// screenshots saves full-page PNG screenshots under dir and, when
// HOOKLET_SCREENSHOTS names a directory, copies them there.
type screenshots struct {
	dir string
}

func (s *screenshots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, t) // 100: PNG
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(s.dir, name+".png"), buf, 0o644); err != nil {
			return err
		}
		if out := os.Getenv("HOOKLET_SCREENSHOTS"); out != "" {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, name+".png"), buf, 0o644)
		}
		return nil
	})
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()

	// A Dispatcher over a bbolt file, delivering to a loopback receiver
	// that fails once; one attempt per delivery, so the failure is final
	// until a replay.
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "hooklet.db"), nil)
	require.NoError(t, err)
	store := &outcomeStore{Store: st, outcomes: make(chan webhook.Outcome, 100)}
	d, err := webhook.New(webhook.Config{Store: store, AllowPrivateNetworks: true,
		Retry: webhook.RetryPolicy{Schedule: []time.Duration{}}})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	recv := httptest.NewServer(&flakyReceiver{})
	defer recv.Close()
	defer func() {
		require.NoError(t, d.Close(context.Background()))
		require.NoError(t, st.Close())
	}()

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", NewHandler(d, nil)))
	mux.Handle("/portal/", http.StripPrefix("/portal", NewHandler(d, &Options{
		Tenant: func(*http.Request) (string, error) { return "acme", nil }, Title: "Acme webhooks"})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	shots := &screenshots{dir: t.TempDir()}
	admin := srv.URL + "/admin"
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, steps...))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		return s
	}

	// Every page must render without an exception, a console error or a
	// browser log error (a refused script or a CSP violation is one).
	var (
		mu       sync.Mutex
		problems []string
	)
	messages := chromedp.Console(bctx)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	}()

	waitOutcome := func(want webhook.DeliveryState) {
		t.Helper()
		select {
		case o := <-store.outcomes:
			require.Equal(t, want, o.State)
		case <-ctx.Done():
			t.Fatalf("no outcome: %v", ctx.Err())
		}
	}

	// Create an endpoint through the console form.
	do(
		chromedp.Navigate(admin+"/endpoints/new"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=id]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=id]`), "ep_browser"),
		chromedp.SendKeys(chromedp.CSS(`input[name=url]`), recv.URL+"/hooks"),
		chromedp.SetValue(chromedp.CSS(`input[name=event_types]`), "invoice.*"),
		chromedp.SendKeys(chromedp.CSS(`input[name=description]`), "Billing receiver"),
		shots.take("form"),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	ep, err := d.Endpoint(ctx, "ep_browser")
	require.NoError(t, err)
	require.Equal(t, ep.Secrets[0].Key, strings.TrimSpace(text(`#secret`)))

	// The host emits; the receiver fails the delivery.
	require.NoError(t, d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1","amount":1200}`)}))
	waitOutcome(webhook.StateFailed)
	page, err := d.Deliveries(ctx, nil)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	dl := page.Items[0]

	// See it in the delivery log, open its attempts, replay it.
	link := chromedp.CSS(`a[href$="/deliveries/` + dl.ID + `"]`)
	do(
		chromedp.Navigate(admin+"/deliveries?state=failed"),
		chromedp.WaitVisible(link),
		shots.take("deliveries"),
		chromedp.Click(link),
		chromedp.WaitVisible(chromedp.CSS(`table.attempts`)),
		shots.take("delivery-failed"),
	)
	attempts := text(`table.attempts tbody`)
	require.Contains(t, attempts, "500")
	require.Contains(t, attempts, "<b>temporarily</b> down", "the response body is shown as text")
	do(
		chromedp.Click(chromedp.CSS(`form[action$="/redeliver"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	waitOutcome(webhook.StateSucceeded)
	do(
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`.title-row .badge.succeeded`)),
		shots.take("delivery"),
	)
	require.Equal(t, "succeeded", text(`.title-row .badge`))
	require.Contains(t, text(`table.attempts tbody`), "200")

	// The endpoint page shows its health; the edit form previews a
	// template with the script, and shows a compile error at its place.
	do(
		chromedp.Navigate(admin+"/endpoints/ep_browser"),
		chromedp.WaitVisible(chromedp.CSS(`.cards`)),
		shots.take("endpoint"),
		chromedp.Navigate(admin+"/endpoints/ep_browser/edit"),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=template]`)),
		chromedp.SetValue(chromedp.CSS(`textarea[name=template]`), "local event = import \"hooklet.libsonnet\";\n{ amount: event.get(\"amount\", 0), region: event.settings.region }"),
		chromedp.SetValue(chromedp.CSS(`textarea[name=settings]`), `{"region": "eu"}`),
		chromedp.Click(chromedp.CSS(`#preview-button`)),
	)
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("preview-body").textContent.includes("region")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err)
	require.Contains(t, text(`#preview-body`), `"region":"eu"`)
	do(
		shots.take("preview"),
		chromedp.SetValue(chromedp.CSS(`textarea[name=template]`), "{\n  amount: ,\n}"),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS(`.template-error`)),
	)
	require.Contains(t, text(`.template-error`), "line 2, column")

	// The endpoints page, wide and narrow.
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_acme", Tenant: "acme", URL: recv.URL + "/acme",
		Description: "Acme's CRM", EventTypes: []string{"customer.*"}, Secrets: []webhook.Secret{webhook.NewSecret()}}))
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_globex", Tenant: "globex", URL: recv.URL + "/globex",
		Secrets: []webhook.Secret{webhook.NewSecret()}}))
	do(
		chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shots.take("endpoints"),
	)
	list := text(`table`)
	require.Contains(t, list, "ep_browser")
	require.Contains(t, list, "ep_globex")
	do(
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shots.take("endpoints-narrow"),
		chromedp.ResetViewport(),
	)

	// The portal shows one tenant only.
	do(
		chromedp.Navigate(srv.URL+"/portal/"),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shots.take("portal"),
	)
	portal := text(`main`)
	require.Contains(t, portal, "ep_acme")
	require.NotContains(t, portal, "ep_globex")
	require.NotContains(t, portal, "ep_browser")

	cancelBrowser()
	<-listening
	mu.Lock()
	require.Empty(t, problems, "the pages reported errors")
	mu.Unlock()
	for _, name := range []string{"form", "deliveries", "delivery-failed", "delivery", "endpoint", "preview", "endpoints", "endpoints-narrow", "portal"} {
		info, err := os.Stat(filepath.Join(shots.dir, name+".png"))
		require.NoError(t, err)
		require.Positive(t, info.Size())
	}
}
