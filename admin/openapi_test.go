package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIOp struct {
	Responses map[string]struct {
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	return doc
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()

	t.Run("RoutesMatchDocument", func(t *testing.T) {
		t.Parallel()
		doc := loadOpenAPI(t)
		var documented, served []string
		for path, ops := range doc.Paths {
			for method := range ops {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
		for _, rt := range apiRoutes {
			served = append(served, rt.Method+" "+rt.Path)
		}
		served = append(served, "GET /api/v1/openapi.json")
		slices.Sort(documented)
		slices.Sort(served)
		require.Equal(t, served, documented)
	})

	t.Run("HandlerAnswersEveryDocumentedRoute", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		doc := loadOpenAPI(t)
		for path, ops := range doc.Paths {
			for method := range ops {
				res := b.do(strings.ToUpper(method), strings.ReplaceAll(path, "{id}", "nope"), nil)
				got := body(t, res)
				require.NotContains(t, got, "no such route", "%s %s", method, path)
				require.NotEqual(t, http.StatusMethodNotAllowed, res.StatusCode, "%s %s", method, path)
			}
		}
		// And the fallback really is what an unknown route gets.
		require.Contains(t, body(t, b.do("GET", "/api/v1/nope", nil)), "no such route")
	})

	t.Run("ResponsesMatchSchemas", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		doc := loadOpenAPI(t)
		ep := b.putEndpoint("ep_1", "acme")
		ep.Headers = map[string]string{"Authorization": "Bearer x"}
		ep.Retry = &webhook.RetryPolicy{Schedule: webhook.RetryScheduleDefault(), MaxRetryAfter: time.Minute}
		ep.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig"}
		ep.Settings = json.RawMessage(`{"a":1}`)
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		ev, dls := b.emit("invoice.paid", "acme")
		b.record(dls[0], 500, "boom", webhook.StatePending)
		b.record(dls[0], 0, "", webhook.StateFailed)
		_, dls2 := b.emit("invoice.sent", "acme")
		b.record(dls2[0], 200, string([]byte{0xff, 'x'}), webhook.StateSucceeded)
		_, dls3 := b.emit("invoice.due", "acme")
		b.awaitReport(dls3[0], "half way")

		calls := []struct {
			method, path, target string
			body                 any
			status               int
		}{
			{"GET", "/api/v1/endpoints", "/api/v1/endpoints", nil, 200},
			{"GET", "/api/v1/endpoints/{id}", "/api/v1/endpoints/ep_1", nil, 200},
			{"PUT", "/api/v1/endpoints/{id}", "/api/v1/endpoints/ep_2", map[string]any{"url": "https://x.example.com"}, 201},
			{"PUT", "/api/v1/endpoints/{id}", "/api/v1/endpoints/ep_2", map[string]any{"url": "https://y.example.com"}, 200},
			{"POST", "/api/v1/endpoints/{id}/disable", "/api/v1/endpoints/ep_2/disable", nil, 200},
			{"POST", "/api/v1/endpoints/{id}/enable", "/api/v1/endpoints/ep_2/enable", nil, 200},
			{"POST", "/api/v1/endpoints/{id}/rotate-secret", "/api/v1/endpoints/ep_2/rotate-secret", nil, 200},
			{"POST", "/api/v1/endpoints/{id}/test", "/api/v1/endpoints/ep_2/test", nil, 202},
			{"POST", "/api/v1/endpoints/{id}/redeliver-failed", "/api/v1/endpoints/ep_2/redeliver-failed", nil, 200},
			{"GET", "/api/v1/endpoints/{id}/health", "/api/v1/endpoints/ep_1/health", nil, 200},
			{"GET", "/api/v1/deliveries", "/api/v1/deliveries", nil, 200},
			{"GET", "/api/v1/deliveries/{id}", "/api/v1/deliveries/" + dls[0].ID, nil, 200},
			{"GET", "/api/v1/deliveries/{id}/attempts", "/api/v1/deliveries/" + dls[0].ID + "/attempts", nil, 200},
			{"GET", "/api/v1/deliveries/{id}/attempts", "/api/v1/deliveries/" + dls2[0].ID + "/attempts", nil, 200},
			{"GET", "/api/v1/deliveries/{id}", "/api/v1/deliveries/" + dls3[0].ID, nil, 200},
			{"GET", "/api/v1/deliveries/{id}/reports", "/api/v1/deliveries/" + dls3[0].ID + "/reports", nil, 200},
			{"GET", "/api/v1/events/{id}", "/api/v1/events/" + ev.ID, nil, 200},
			{"POST", "/api/v1/templates/preview", "/api/v1/templates/preview", map[string]any{"template": "{a: 1}"}, 200},
			{"POST", "/api/v1/templates/preview", "/api/v1/templates/preview", map[string]any{"template": "{a: }"}, 400},
			{"GET", "/api/v1/endpoints/{id}", "/api/v1/endpoints/nope", nil, 404},
			{"POST", "/api/v1/deliveries/{id}/redeliver", "/api/v1/deliveries/" + dls[0].ID + "/redeliver", nil, 202},
			{"DELETE", "/api/v1/endpoints/{id}", "/api/v1/endpoints/ep_2", nil, 204},
		}
		checked := map[string]bool{}
		for _, c := range calls {
			res := b.do(c.method, c.target, c.body)
			raw, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, c.status, res.StatusCode, "%s %s: %s", c.method, c.target, raw)
			op := doc.Paths[c.path][strings.ToLower(c.method)]
			resp, ok := op.Responses[strconv.Itoa(c.status)]
			require.True(t, ok, "%s %s does not document %d", c.method, c.path, c.status)
			checked[c.method+" "+c.path] = true
			if len(resp.Content) == 0 {
				require.Empty(t, raw)
				continue
			}
			ct := res.Header.Get("Content-Type")
			media, ok := resp.Content[ct]
			require.True(t, ok, "%s %s answers %s, documented %v", c.method, c.path, ct, resp.Content)
			var v any
			require.NoError(t, json.Unmarshal(raw, &v))
			checkSchema(t, doc, media.Schema, v, c.method+" "+c.target)
		}
		for _, rt := range apiRoutes {
			require.True(t, checked[rt.Method+" "+rt.Path], "no schema check for %s %s", rt.Method, rt.Path)
		}
	})
}

// checkSchema checks that every field of v is declared by schema (and its
// $refs), recursively, and that required fields are present.
func checkSchema(t *testing.T, doc openAPIDoc, schema json.RawMessage, v any, where string) {
	t.Helper()
	var s struct {
		Ref                  string                     `json:"$ref"`
		Type                 any                        `json:"type"`
		Properties           map[string]json.RawMessage `json:"properties"`
		Required             []string                   `json:"required"`
		Items                json.RawMessage            `json:"items"`
		AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	}
	require.NoError(t, json.Unmarshal(schema, &s))
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		ref, ok := doc.Components.Schemas[name]
		require.True(t, ok, "%s: unknown schema %s", where, s.Ref)
		checkSchema(t, doc, ref, v, where+" ("+name+")")
		return
	}
	switch val := v.(type) {
	case map[string]any:
		if s.Properties == nil && len(s.AdditionalProperties) > 0 && string(s.AdditionalProperties) != "false" {
			for k, item := range val {
				checkSchema(t, doc, s.AdditionalProperties, item, where+"."+k)
			}
			return
		}
		if s.Properties == nil {
			return // free-form JSON (payload, settings)
		}
		for k, item := range val {
			prop, ok := s.Properties[k]
			require.True(t, ok, "%s: field %q is not in the schema", where, k)
			checkSchema(t, doc, prop, item, where+"."+k)
		}
		for _, k := range s.Required {
			require.Contains(t, val, k, "%s: required field %q missing", where, k)
		}
	case []any:
		if len(s.Items) > 0 {
			for i, item := range val {
				checkSchema(t, doc, s.Items, item, fmt.Sprintf("%s[%d]", where, i))
			}
		}
	}
}
