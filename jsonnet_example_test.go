package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	webhook "github.com/hooklet/webhook"
)

func ExampleNewJsonnetTransformer() {
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	tmpl, err := tr.Compile(`
local event = import "hooklet.libsonnet";
{
  email: event.get("email", ""),
  list: event.settings.list,
  city: event.path("address.city", "unknown"),
}`)
	if err != nil {
		panic(err)
	}
	r, err := tmpl.Render(context.Background(), &webhook.RenderInput{
		Event: &webhook.Event{Type: "user.created", Payload: json.RawMessage(`{"email":"ada@example.com"}`)},
		Endpoint: &webhook.Endpoint{ID: "ep_crm", URL: "https://crm.example.com/hooks",
			Settings: json.RawMessage(`{"list":"newsletter"}`)},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ContentType)
	fmt.Println(string(r.Body))

	_, err = tr.Compile("{\n  a: import \"secrets.json\" }")
	var te *webhook.TemplateError
	if errors.As(err, &te) {
		fmt.Printf("line %d, column %d: %s\n", te.Line, te.Column, te.Message)
	}
	// Output:
	// application/json
	// {"city":"unknown","email":"ada@example.com","list":"newsletter"}
	// line 2, column 6: import "secrets.json" is not allowed; only "hooklet.libsonnet" and "lytemplates.libsonnet" can be imported
}
