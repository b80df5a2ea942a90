// Package admin is the operator surface of Hooklet: an [http.Handler] that
// serves a JSON API (described by an OpenAPI 3 document at
// /api/v1/openapi.json) and a server-rendered web console, over a
// [webhook.Dispatcher].
//
// The host mounts it under any prefix and puts its own authentication in
// front of it:
//
//	h := admin.NewHandler(d, nil)
//	http.Handle("/admin/", http.StripPrefix("/admin", requireOperator(h)))
//
// # Tenant portal mode
//
// With [Options.Tenant] set, the handler serves one tenant per request,
// the one the function names: endpoints of other tenants, and their
// deliveries, events and attempts, answer 404 as if they did not exist, and
// endpoints saved through it belong to that tenant. A host mounts the same
// Dispatcher twice to give operators the whole view and customers a
// portal of their own.
//
// # Security
//
// Every response carries a strict Content-Security-Policy (scripts and
// styles from the handler's own embedded files only, no framing),
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
// Requests that change state are refused when they come from another
// origin ([http.CrossOriginProtection]). Secrets leave the server only once:
// in the answer that created or rotated them. Authentication is the host's.
package admin
