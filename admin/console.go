package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	webhook "github.com/hooklet/webhook"
)

// consoleRoutes are the pages and form actions of the web console.
var consoleRoutes = []route{
	{"GET", "/{$}", (*handler).pageEndpoints},
	{"GET", "/endpoints/new", (*handler).pageNewEndpoint},
	{"POST", "/endpoints/save", (*handler).actionSaveEndpoint},
	{"GET", "/endpoints/{id}", (*handler).pageEndpoint},
	{"GET", "/endpoints/{id}/edit", (*handler).pageEditEndpoint},
	{"POST", "/endpoints/{id}/enable", (*handler).actionEnable},
	{"POST", "/endpoints/{id}/disable", (*handler).actionDisable},
	{"POST", "/endpoints/{id}/rotate-secret", (*handler).actionRotate},
	{"POST", "/endpoints/{id}/test", (*handler).actionTest},
	{"POST", "/endpoints/{id}/redeliver-failed", (*handler).actionRedeliverFailed},
	{"POST", "/endpoints/{id}/delete", (*handler).actionDelete},
	{"GET", "/deliveries", (*handler).pageDeliveries},
	{"GET", "/deliveries/{id}", (*handler).pageDelivery},
	{"POST", "/deliveries/{id}/redeliver", (*handler).actionRedeliver},
}

// pageFuncs are the helpers page templates call.
var pageFuncs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"timep": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	},
	"percent": func(r *float64) string {
		if r == nil {
			return "–"
		}
		return strconv.FormatFloat(*r*100, 'f', 1, 64) + " %"
	},
	"join": strings.Join,
	"text": func(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") },
	"pretty": func(v any) string {
		var b []byte
		switch v := v.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		case json.RawMessage:
			b = v
		}
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") != nil {
			return string(b)
		}
		return out.String()
	},
	"path": url.PathEscape,
}

// pageData is what every page template gets.
type pageData struct {
	Title  string
	App    string
	Base   string
	Portal bool
	Tenant string
	Nav    string
	Flash  string
	Error  string
	Data   any
}

// page adapts a console route: it resolves the scope and renders errors
// as an error page.
func (h *handler) page(fn func(*handler, http.ResponseWriter, *http.Request, *scope) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.scopeFor(r)
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			err = fn(h, w, r, s)
		}
		if err != nil {
			h.logError(r, err)
			p := problemFor(err)
			h.render(w, r, s, p.Status, "error", "Error", "", p)
		}
	}
}

// render writes a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, s *scope, status int, name, title, nav string, data any) {
	pd := pageData{Title: title, App: h.opts.Title, Base: base(r), Nav: nav, Flash: flash(r), Data: data}
	if s != nil {
		pd.Portal, pd.Tenant = s.portal, s.tenant
	}
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, pd); err != nil {
		h.logger.ErrorContext(r.Context(), "admin: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect answers a form action with 303 See Other to a page of the
// console, which then shows the message of what was done: one of
// flashMessages, with its argument.
func redirect(w http.ResponseWriter, r *http.Request, path, done, arg string) {
	q := url.Values{"done": {done}}
	if arg != "" {
		q.Set("arg", arg)
	}
	http.Redirect(w, r, base(r)+path+"?"+q.Encode(), http.StatusSeeOther)
}

// flashMessages are the messages a page shows after an action, by the
// action's code. Only these can be shown, so a crafted link cannot put
// words of its own on a page.
var flashMessages = map[string]string{
	"saved":       "Endpoint saved.",
	"enabled":     "Endpoint enabled.",
	"disabled":    "Endpoint disabled.",
	"deleted":     "Endpoint deleted.",
	"tested":      "Test event %s emitted.",
	"replayed":    "%s failed deliveries sent again.",
	"redelivered": "Delivery sent again.",
}

// flash returns the message of the action a page was redirected from.
func flash(r *http.Request) string {
	q := r.URL.Query()
	msg, ok := flashMessages[q.Get("done")]
	if !ok {
		return ""
	}
	if strings.Contains(msg, "%s") {
		arg := q.Get("arg")
		if len(arg) > 80 || strings.ContainsFunc(arg, func(c rune) bool { return c == ' ' || c < 0x20 }) {
			return ""
		}
		msg = fmt.Sprintf(msg, arg)
	}
	return msg
}

// endpointRow is one line of the endpoints page.
type endpointRow struct {
	Endpoint webhook.Endpoint
	Glance   glance
}

func (h *handler) pageEndpoints(w http.ResponseWriter, r *http.Request, s *scope) error {
	q := r.URL.Query()
	page, err := s.endpoints(r.Context(), q.Get("tenant"), q.Get("cursor"), 0)
	if err != nil {
		return err
	}
	rows := make([]endpointRow, len(page.Items))
	for i, ep := range page.Items {
		g, err := s.glance(r.Context(), ep.ID, h.now())
		if err != nil {
			return err
		}
		rows[i] = endpointRow{Endpoint: ep, Glance: g}
	}
	h.render(w, r, s, http.StatusOK, "endpoints", "Endpoints", "endpoints", struct {
		Rows         []endpointRow
		Next, Tenant string
	}{rows, page.Next, q.Get("tenant")})
	return nil
}

// endpointView is the endpoint page.
type endpointView struct {
	Endpoint webhook.Endpoint
	Health   endpointHealth
	Recent   []webhook.Delivery
	Since    string
}

func (h *handler) pageEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	ctx := r.Context()
	ep, err := s.endpoint(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	hl, err := s.health(ctx, ep.ID, h.now())
	if err != nil {
		return err
	}
	recent, err := s.d.Deliveries(ctx, &webhook.ListDeliveriesParams{
		EndpointID: ep.ID, Cursor: deliveryCursorAt(h.now().Add(-time.Hour)), Limit: 20})
	if err != nil {
		return err
	}
	slices.Reverse(recent.Items)
	h.render(w, r, s, http.StatusOK, "endpoint", "Endpoint "+ep.ID, "endpoints", endpointView{
		Endpoint: ep, Health: hl, Recent: recent.Items,
		Since: h.now().Add(-24 * time.Hour).UTC().Format(time.RFC3339),
	})
	return nil
}

// endpointForm is the create and edit form, as typed.
type endpointForm struct {
	New                               bool
	ID, Tenant, URL, Description      string
	EventTypes, Template, ContentType string
	Settings, Headers, MaxConcurrency string
	Disabled                          bool
	Errors                            []string
	TemplateError                     *webhook.TemplateError
	Preview                           *previewResult
}

// formOf fills the form from a stored endpoint.
func formOf(ep webhook.Endpoint) endpointForm {
	f := endpointForm{ID: ep.ID, Tenant: ep.Tenant, URL: ep.URL, Description: ep.Description,
		EventTypes: strings.Join(ep.EventTypes, ", "), Template: ep.Template, ContentType: ep.ContentType,
		Settings: string(ep.Settings), Disabled: ep.Disabled}
	if ep.MaxConcurrency > 0 {
		f.MaxConcurrency = strconv.Itoa(ep.MaxConcurrency)
	}
	keys := make([]string, 0, len(ep.Headers))
	for k := range ep.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	redacted, _ := json.Marshal(webhook.Endpoint{Headers: ep.Headers})
	var shown struct {
		Headers map[string]string `json:"headers"`
	}
	_ = json.Unmarshal(redacted, &shown)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, shown.Headers[k])
	}
	f.Headers = b.String()
	return f
}

func (h *handler) pageNewEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	f := endpointForm{New: true, EventTypes: "*"}
	if s.portal {
		f.Tenant = s.tenant
	}
	h.render(w, r, s, http.StatusOK, "form", "New endpoint", "new", f)
	return nil
}

func (h *handler) pageEditEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.endpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	h.render(w, r, s, http.StatusOK, "form", "Edit "+ep.ID, "endpoints", formOf(ep))
	return nil
}

// parseForm reads the endpoint form into an endpoint. Problems with the
// typed values are listed in f.Errors.
func parseForm(r *http.Request, s *scope, f *endpointForm) webhook.Endpoint {
	v := r.PostForm
	*f = endpointForm{New: v.Get("new") == "1", ID: strings.TrimSpace(v.Get("id")), Tenant: strings.TrimSpace(v.Get("tenant")),
		URL: strings.TrimSpace(v.Get("url")), Description: v.Get("description"), EventTypes: v.Get("event_types"),
		Template: v.Get("template"), ContentType: strings.TrimSpace(v.Get("content_type")),
		Settings: strings.TrimSpace(v.Get("settings")), Headers: v.Get("headers"),
		MaxConcurrency: strings.TrimSpace(v.Get("max_concurrency")), Disabled: v.Get("disabled") == "1"}
	if s.portal {
		f.Tenant = s.tenant
	}
	ep := webhook.Endpoint{ID: f.ID, Tenant: f.Tenant, URL: f.URL, Description: f.Description,
		Template: f.Template, ContentType: f.ContentType, Disabled: f.Disabled}
	ep.EventTypes = strings.FieldsFunc(f.EventTypes, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if f.Settings != "" {
		if !json.Valid([]byte(f.Settings)) {
			f.Errors = append(f.Errors, "Settings must be JSON.")
		} else {
			ep.Settings = json.RawMessage(f.Settings)
		}
	}
	for i, line := range strings.Split(f.Headers, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			f.Errors = append(f.Errors, fmt.Sprintf("Headers, line %d: write it as Name: value.", i+1))
			continue
		}
		if ep.Headers == nil {
			ep.Headers = map[string]string{}
		}
		ep.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	if f.MaxConcurrency != "" {
		n, err := strconv.Atoi(f.MaxConcurrency)
		if err != nil || n < 0 {
			f.Errors = append(f.Errors, "Max concurrency must be a whole number.")
		}
		ep.MaxConcurrency = n
	}
	return ep
}

// formOver returns the stored endpoint old with the fields the console's
// form edits taken from edited; every other field (filter, ordering, rate
// limit, retry policy, signature scheme, what Hooklet keeps itself) keeps
// its stored value, so saving the form never drops a setting it does not
// show.
func formOver(old, edited webhook.Endpoint) webhook.Endpoint {
	ep := old.Clone()
	ep.Tenant, ep.URL, ep.Description = edited.Tenant, edited.URL, edited.Description
	ep.EventTypes, ep.Template, ep.ContentType = edited.EventTypes, edited.Template, edited.ContentType
	ep.Settings, ep.Headers, ep.MaxConcurrency = edited.Settings, edited.Headers, edited.MaxConcurrency
	ep.Disabled = edited.Disabled
	if !ep.Disabled || !old.Disabled {
		ep.DisabledReason = ""
	}
	return ep
}

func (h *handler) actionSaveEndpoint(w http.ResponseWriter, r *http.Request, s *scope) error {
	if err := r.ParseForm(); err != nil {
		return badRequest("unreadable form", err)
	}
	var f endpointForm
	ep := parseForm(r, s, &f)
	title := "Edit " + f.ID
	if f.New {
		title = "New endpoint"
	}
	if r.PostForm.Get("action") == "preview" {
		res, err := s.preview(r.Context(), h.opts.Transformer, previewRequest{Template: ep.Template, Settings: ep.Settings}, h.now())
		if err != nil {
			f.addError(err)
		} else {
			f.Preview = &res
		}
		h.render(w, r, s, http.StatusOK, "form", title, "new", f)
		return nil
	}
	if len(f.Errors) == 0 {
		if f.New {
			if _, err := s.d.Endpoint(r.Context(), ep.ID); err == nil {
				f.Errors = append(f.Errors, fmt.Sprintf("An endpoint with the ID %q exists already.", ep.ID))
			}
		} else if old, err := s.endpoint(r.Context(), ep.ID); err == nil {
			ep = formOver(old, ep)
		}
	}
	if len(f.Errors) == 0 {
		res, err := s.saveEndpoint(r.Context(), ep, false)
		if err == nil {
			if res.NewSecret != nil {
				h.render(w, r, s, http.StatusOK, "secret", "Endpoint created", "endpoints", rotation{
					Secret: res.NewSecret.Key, Endpoint: res.Endpoint})
				return nil
			}
			redirect(w, r, "/endpoints/"+url.PathEscape(ep.ID), "saved", "")
			return nil
		}
		if errors.Is(err, webhook.ErrNotFound) {
			return err
		}
		if problemFor(err).Status >= 500 {
			return err
		}
		f.addError(err)
	}
	h.render(w, r, s, http.StatusOK, "form", title, "new", f)
	return nil
}

// addError shows err on the form: a template error at its line and
// column, anything else as text.
func (f *endpointForm) addError(err error) {
	var te *webhook.TemplateError
	if errors.As(err, &te) {
		f.TemplateError = te
		return
	}
	f.Errors = append(f.Errors, err.Error())
}

func (h *handler) actionEnable(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.setDisabled(r.Context(), r.PathValue("id"), false)
	if err != nil {
		return err
	}
	redirect(w, r, "/endpoints/"+url.PathEscape(ep.ID), "enabled", "")
	return nil
}

func (h *handler) actionDisable(w http.ResponseWriter, r *http.Request, s *scope) error {
	ep, err := s.setDisabled(r.Context(), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	redirect(w, r, "/endpoints/"+url.PathEscape(ep.ID), "disabled", "")
	return nil
}

func (h *handler) actionRotate(w http.ResponseWriter, r *http.Request, s *scope) error {
	rot, err := s.rotateSecret(r.Context(), r.PathValue("id"), h.opts.RotationGrace)
	if err != nil {
		return err
	}
	h.render(w, r, s, http.StatusOK, "secret", "Secret rotated", "endpoints", rot)
	return nil
}

func (h *handler) actionTest(w http.ResponseWriter, r *http.Request, s *scope) error {
	id := r.PathValue("id")
	te, err := s.sendTest(r.Context(), id, h.opts.TestEventType, h.now())
	if err != nil {
		return err
	}
	redirect(w, r, "/endpoints/"+url.PathEscape(id), "tested", te.EventID)
	return nil
}

func (h *handler) actionRedeliverFailed(w http.ResponseWriter, r *http.Request, s *scope) error {
	if err := r.ParseForm(); err != nil {
		return badRequest("unreadable form", err)
	}
	since, err := parseSince(r.PostForm.Get("since"))
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	fresh, err := queryBool(r.PostForm.Get("fresh_schedule"))
	if err != nil {
		return err
	}
	res, err := s.redeliverFailed(r.Context(), id, since, fresh)
	if err != nil {
		return err
	}
	redirect(w, r, "/endpoints/"+url.PathEscape(id), "replayed", strconv.Itoa(res.Redelivered))
	return nil
}

func (h *handler) actionDelete(w http.ResponseWriter, r *http.Request, s *scope) error {
	id := r.PathValue("id")
	if err := s.deleteEndpoint(r.Context(), id); err != nil {
		return err
	}
	redirect(w, r, "/", "deleted", "")
	return nil
}

// deliveryRow is one line of the delivery log.
type deliveryRow struct {
	Delivery  webhook.Delivery
	EventType string
}

func (h *handler) pageDeliveries(w http.ResponseWriter, r *http.Request, s *scope) error {
	q := r.URL.Query()
	st, err := queryState(q.Get("state"))
	if err != nil {
		return err
	}
	f := deliveryFilter{State: st, EndpointID: strings.TrimSpace(q.Get("endpoint")),
		EventType: strings.TrimSpace(q.Get("type")), Cursor: q.Get("cursor")}
	page, err := s.deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	types := map[string]string{}
	rows := make([]deliveryRow, len(page.Items))
	for i, dl := range page.Items {
		t, err := s.eventType(r.Context(), dl.EventID, types)
		if err != nil {
			return err
		}
		rows[i] = deliveryRow{Delivery: dl, EventType: t}
	}
	next := ""
	if page.Next != "" {
		nq := url.Values{"cursor": {page.Next}}
		for _, k := range []string{"state", "endpoint", "type"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		next = nq.Encode()
	}
	h.render(w, r, s, http.StatusOK, "deliveries", "Deliveries", "deliveries", struct {
		Rows                  []deliveryRow
		State, Endpoint, Type string
		Next                  string
		States                []string
	}{rows, string(st), f.EndpointID, f.EventType, next, []string{"pending", "succeeded", "failed", "skipped"}})
	return nil
}

func (h *handler) pageDelivery(w http.ResponseWriter, r *http.Request, s *scope) error {
	ctx := r.Context()
	dl, err := s.delivery(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	ev, err := s.d.Event(ctx, dl.EventID)
	if err != nil && !errors.Is(err, webhook.ErrNotFound) {
		return err
	}
	atts, err := s.d.Attempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID, Limit: LimitMax})
	if err != nil {
		return notFound(err)
	}
	reps, err := s.d.Reports(ctx, &webhook.ListReportsParams{DeliveryID: dl.ID, Limit: LimitMax})
	if err != nil {
		return notFound(err)
	}
	h.render(w, r, s, http.StatusOK, "delivery", "Delivery "+dl.ID, "deliveries", struct {
		Delivery    webhook.Delivery
		Event       webhook.Event
		Attempts    []webhook.Attempt
		More        bool
		Reports     []webhook.Report
		MoreReports bool
	}{dl, ev, atts.Items, atts.Next != "", reps.Items, reps.Next != ""})
	return nil
}

func (h *handler) actionRedeliver(w http.ResponseWriter, r *http.Request, s *scope) error {
	id := r.PathValue("id")
	if _, err := s.delivery(r.Context(), id); err != nil {
		return err
	}
	if err := s.d.Redeliver(r.Context(), id); err != nil {
		return notFound(err)
	}
	redirect(w, r, "/deliveries/"+url.PathEscape(id), "redelivered", "")
	return nil
}
