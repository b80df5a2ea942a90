package admin

import (
	"cmp"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	webhook "github.com/hooklet/webhook"
)

// contentSecurityPolicy allows scripts, styles and images from the
// handler's own files only, no inline script, no framing, and forms that
// post back to the handler.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// handler serves the admin API and the web console. Create one with
// [NewHandler]; it is safe for concurrent use.
type handler struct {
	d      *webhook.Dispatcher
	opts   Options
	mux    *http.ServeMux
	pages  *template.Template
	static http.Handler
	h      http.Handler
	logger *slog.Logger
}

// NewHandler returns the admin handler over d: the JSON API under
// /api/v1/ (described at /api/v1/openapi.json) and the web console at /.
// The host mounts it under any prefix with [http.StripPrefix] and puts its
// own authentication in front. opts may be nil.
func NewHandler(d *webhook.Dispatcher, opts *Options) http.Handler {
	h := &handler{d: d, mux: http.NewServeMux(), logger: slog.Default()}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Transformer == nil {
		h.opts.Transformer = webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	}
	if h.opts.NowFunc == nil {
		h.opts.NowFunc = time.Now
	}
	h.opts.RotationGrace = cmp.Or(h.opts.RotationGrace, RotationGraceDefault)
	h.opts.TestEventType = cmp.Or(h.opts.TestEventType, TestEventTypeDefault)
	h.opts.Title = cmp.Or(h.opts.Title, "Hooklet")
	h.pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(assets, "assets/templates/*.html"))
	static, _ := fs.Sub(assets, "assets/static")
	h.static = http.StripPrefix("/static/", http.FileServerFS(static))

	for _, rt := range apiRoutes {
		h.mux.HandleFunc(rt.Method+" "+rt.Path, h.api(rt.Handle))
	}
	h.mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, &httpError{status: http.StatusNotFound, msg: "no such route"})
	})
	for _, rt := range consoleRoutes {
		h.mux.HandleFunc(rt.Method+" "+rt.Path, h.page(rt.Handle))
	}
	h.mux.Handle("GET /static/", h.static)

	h.h = http.NewCrossOriginProtection().Handler(h.mux)
	return h
}

// ServeHTTP sets the security headers and serves r.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	h.h.ServeHTTP(w, r)
}

// scopeFor resolves the scope of a request: every tenant in operator
// mode, the one [Options.Tenant] names in portal mode.
func (h *handler) scopeFor(r *http.Request) (*scope, error) {
	if h.opts.Tenant == nil {
		return &scope{d: h.d}, nil
	}
	t, err := h.opts.Tenant(r)
	switch {
	case errors.Is(err, ErrForbidden):
		return nil, &httpError{status: http.StatusForbidden, msg: "forbidden"}
	case err != nil:
		return nil, &httpError{status: http.StatusUnauthorized, msg: "unauthorized"}
	case t == "":
		return nil, &httpError{status: http.StatusForbidden, msg: "no tenant"}
	}
	return &scope{d: h.d, portal: true, tenant: t}, nil
}

// now returns the handler's current time.
func (h *handler) now() time.Time { return h.opts.NowFunc() }

// logError logs an error that answers 500.
func (h *handler) logError(r *http.Request, err error) {
	if problemFor(err).Status >= 500 {
		h.logger.ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// base returns the prefix the host mounted the handler under, taken from
// the request URI before [http.StripPrefix] cut it, so that pages link
// within the mount.
func base(r *http.Request) string {
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return ""
	}
	if rest, ok := strings.CutSuffix(u.EscapedPath(), r.URL.EscapedPath()); ok {
		return strings.TrimSuffix(rest, "/")
	}
	return ""
}
