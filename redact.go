package webhook

import (
	"bytes"
	"net/textproto"
	"net/url"
	"strings"
)

// redactMin is the shortest value redacted from response bodies: shorter
// ones ("1", "eu") are too common to be secrets and would garble the body.
const redactMin = 8

// redacted replaces a secret key, a credential-like header value or a
// secret found in a response body.
const redacted = "[redacted]"

// sensitiveHeaders carry credentials or signatures.
var sensitiveHeaders = map[string]bool{
	HeaderSignature: true, "Svix-Signature": true,
	"Authorization": true, "Proxy-Authorization": true,
	"Cookie": true, "X-Api-Key": true,
	"X-Hub-Signature": true, HMACHexHeaderDefault: true,
}

// sensitiveWords mark a header name as carrying a credential.
var sensitiveWords = []string{"auth", "token", "secret", "signature", "password", "key", "cookie", "session"}

// isSensitiveHeader reports whether a header's value must not be shown:
// a signature, credentials, or a name that suggests either.
func isSensitiveHeader(name string) bool {
	name = textproto.CanonicalMIMEHeaderKey(name)
	if sensitiveHeaders[name] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

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
			b = bytes.ReplaceAll(b, s, []byte(redacted))
		}
	}
	return b
}
