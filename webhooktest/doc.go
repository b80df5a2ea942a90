// Package webhooktest helps a host test its own webhook code, the way
// net/http/httptest helps with HTTP handlers:
//
//   - [Clock], a manual [webhook.Clock] to put in
//     webhook.Config{Test: webhook.TestConfig{Clock: clk}}, so retry
//     schedules run without sleeping;
//   - [Receiver], a loopback HTTP server that records every request and
//     verifies its Standard Webhooks signature;
//   - [WaitForDelivery] and [WaitForEvent], which wait for outcomes
//     through the public [webhook.Dispatcher] API.
//
// The Dispatcher under test must set Config.AllowPrivateNetworks, since
// the Receiver listens on 127.0.0.1. Import this package from _test.go
// files only.
package webhooktest
