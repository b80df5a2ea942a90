package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// portalTenant reads the tenant from a header, as a host would from its
// session.
func portalTenant(r *http.Request) (string, error) {
	switch t := r.Header.Get("X-Tenant"); t {
	case "":
		return "", errors.New("no session")
	case "banned":
		return "", fmt.Errorf("tenant banned: %w", ErrForbidden)
	case "blank":
		return "", nil
	default:
		return t, nil
	}
}

// portalBundle has one endpoint, event and delivery for tenant "mine" and
// the same for tenant "theirs", each with an attempt.
type portalBundle struct {
	*testBundle
	mineDelivery, theirDelivery webhook.Delivery
	mineEvent, theirEvent       webhook.Event
}

func setupPortal(t *testing.T) *portalBundle {
	b := setup(t, &Options{Tenant: portalTenant})
	pb := &portalBundle{testBundle: b}
	b.putEndpoint("ep_mine", "mine")
	b.putEndpoint("ep_theirs", "theirs")
	var dls []webhook.Delivery
	pb.mineEvent, dls = b.emit("invoice.paid", "mine")
	pb.mineDelivery = dls[0]
	pb.theirEvent, dls = b.emit("invoice.paid", "theirs")
	pb.theirDelivery = dls[0]
	b.record(pb.mineDelivery, 500, "", webhook.StateFailed)
	b.record(pb.theirDelivery, 500, "", webhook.StateFailed)
	return pb
}

func (pb *portalBundle) as(tenant, method, target string, body any) *http.Response {
	return pb.do(method, target, body, "X-Tenant", tenant)
}

func TestPortal(t *testing.T) {
	t.Parallel()

	t.Run("EveryRouteHidesForeignIDs", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		for _, rt := range apiRoutes {
			if !strings.Contains(rt.Path, "{id}") {
				continue
			}
			foreign := map[string]string{
				"endpoints":  "ep_theirs",
				"deliveries": pb.theirDelivery.ID,
				"events":     pb.theirEvent.ID,
			}[strings.Split(rt.Path, "/")[3]]
			require.NotEmpty(t, foreign, rt.Path)
			target := strings.Replace(rt.Path, "{id}", foreign, 1)
			var body any
			if rt.Method == "PUT" {
				body = map[string]any{"url": "https://evil.example.com"}
			}
			res := pb.as("mine", rt.Method, target, body)
			p := decode[problem](t, res, http.StatusNotFound)
			require.Equal(t, "not found", p.Detail, "%s %s", rt.Method, target)

			// The same route with the tenant's own record answers.
			own := strings.NewReplacer("ep_theirs", "ep_mine", pb.theirDelivery.ID, pb.mineDelivery.ID, pb.theirEvent.ID, pb.mineEvent.ID).Replace(target)
			res = pb.as("mine", rt.Method, own, body)
			require.Less(t, res.StatusCode, 300, "%s %s: %s", rt.Method, own, body)
			res.Body.Close()
			if rt.Method == "DELETE" || strings.HasSuffix(rt.Path, "/disable") {
				pb.putEndpoint("ep_mine", "mine")
			}
		}
		// Nothing of theirs changed.
		ep, err := pb.d.Endpoint(pb.ctx, "ep_theirs")
		require.NoError(t, err)
		require.Equal(t, "https://example.com/ep_theirs", ep.URL)
		require.False(t, ep.Disabled)
		dl, err := pb.d.Delivery(pb.ctx, pb.theirDelivery.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StateFailed, dl.State)
	})

	t.Run("ListingsShowOneTenant", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		l := decode[endpointList](t, pb.as("mine", "GET", "/api/v1/endpoints?tenant=theirs", nil), http.StatusOK)
		require.Len(t, l.Items, 1)
		require.Equal(t, "ep_mine", l.Items[0].ID)
		d := decode[deliveryList](t, pb.as("mine", "GET", "/api/v1/deliveries", nil), http.StatusOK)
		require.Len(t, d.Items, 1)
		require.Equal(t, pb.mineDelivery.ID, d.Items[0].ID)
		d = decode[deliveryList](t, pb.as("mine", "GET", "/api/v1/deliveries?endpoint_id=ep_theirs", nil), http.StatusOK)
		require.Empty(t, d.Items)
		d = decode[deliveryList](t, pb.as("mine", "GET", "/api/v1/deliveries?state=failed&event_type=invoice.paid", nil), http.StatusOK)
		require.Len(t, d.Items, 1)
	})

	t.Run("BroadcastEventVisibleToSubscribedTenant", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		ev, dls := pb.emit("invoice.sent", "")
		require.Len(t, dls, 2)
		got := decode[webhook.Event](t, pb.as("mine", "GET", "/api/v1/events/"+ev.ID, nil), http.StatusOK)
		require.Equal(t, ev.ID, got.ID)
		decode[problem](t, pb.as("other", "GET", "/api/v1/events/"+ev.ID, nil), http.StatusNotFound)
	})

	t.Run("PutForcesTenant", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		m := decode[map[string]any](t, pb.as("mine", "PUT", "/api/v1/endpoints/ep_new", map[string]any{"url": "https://example.com/new"}), http.StatusCreated)
		require.Equal(t, "mine", m["tenant"])
		decode[problem](t, pb.as("mine", "PUT", "/api/v1/endpoints/ep_new2", map[string]any{"url": "https://example.com/new", "tenant": "theirs"}), http.StatusBadRequest)
		_, err := pb.d.Endpoint(pb.ctx, "ep_new2")
		require.ErrorIs(t, err, webhook.ErrNotFound)
	})

	t.Run("PreviewWithForeignEndpoint", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		decode[problem](t, pb.as("mine", "POST", "/api/v1/templates/preview", map[string]any{"endpoint_id": "ep_theirs", "template": "{}"}), http.StatusNotFound)
		decode[previewResult](t, pb.as("mine", "POST", "/api/v1/templates/preview", map[string]any{"endpoint_id": "ep_mine", "template": "{}"}), http.StatusOK)
	})

	t.Run("TenantErrors", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		decode[problem](t, pb.as("", "GET", "/api/v1/endpoints", nil), http.StatusUnauthorized)
		decode[problem](t, pb.as("banned", "GET", "/api/v1/endpoints", nil), http.StatusForbidden)
		decode[problem](t, pb.as("blank", "GET", "/api/v1/endpoints", nil), http.StatusForbidden)
		res := pb.as("", "GET", "/", nil)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Contains(t, body(t, res), "Unauthorized")
	})

	t.Run("ConsoleHidesForeignIDs", func(t *testing.T) {
		t.Parallel()
		pb := setupPortal(t)
		for _, rt := range consoleRoutes {
			if !strings.Contains(rt.Path, "{id}") {
				continue
			}
			foreign := "ep_theirs"
			if strings.HasPrefix(rt.Path, "/deliveries/") {
				foreign = pb.theirDelivery.ID
			}
			target := strings.Replace(rt.Path, "{id}", foreign, 1)
			res := pb.as("mine", rt.Method, target, nil)
			require.Equal(t, http.StatusNotFound, res.StatusCode, "%s %s", rt.Method, target)
			res.Body.Close()
		}
		page := body(t, pb.as("mine", "GET", "/", nil))
		require.Contains(t, page, "ep_mine")
		require.NotContains(t, page, "ep_theirs")
		page = body(t, pb.as("mine", "GET", "/deliveries", nil))
		require.Contains(t, page, pb.mineDelivery.ID)
		require.NotContains(t, page, pb.theirDelivery.ID)
	})
}
