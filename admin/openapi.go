package admin

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of the JSON API.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document that describes the JSON API, as
// the handler serves it at /api/v1/openapi.json. The caller may modify the
// returned slice.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
