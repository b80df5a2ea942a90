package webhook

import (
	"bytes"
	"net/url"
	"strings"
)

// redactMin is the shortest value redacted from response bodies: shorter
// ones ("1", "eu") are too common to be secrets and would garble the body.
const redactMin = 8

// secretsOf returns the values of ep that must never be recorded: its
// secret keys (whole, and without their prefix), its header values (whole,
// and the credentials after an auth scheme) and its URL query values.
func secretsOf(ep *Endpoint) [][]byte {
	var out [][]byte
	add := func(s string) {
		if len(s) >= redactMin {
			out = append(out, []byte(s))
		}
	}
	for _, s := range ep.Secrets {
		add(s.Key)
		if _, body, ok := strings.Cut(s.Key, "_"); ok && kindOfKey(s.Key) != keyRaw {
			add(body)
		}
	}
	for _, v := range ep.Headers {
		add(v)
		if i := strings.LastIndexAny(v, " \t"); i >= 0 {
			add(v[i+1:])
		}
	}
	if u, err := url.Parse(ep.URL); err == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		add(u.RawQuery)
	}
	return out
}

// redact returns b with every occurrence of a secret replaced, reusing b
// when none occurs.
func redact(b []byte, secrets [][]byte) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, s) {
			b = bytes.ReplaceAll(b, s, []byte(Redacted))
		}
	}
	return b
}
