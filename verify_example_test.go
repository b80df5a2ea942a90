package webhook_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	webhook "github.com/hooklet/webhook"
)

// A receiver verifies the exact body it read against the request headers.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	now := time.Unix(1614265330, 0) // in a receiver: webhook.Verify reads the clock

	fmt.Println(webhook.VerifyAt(secret, h, body, 5*time.Minute, now))
	err := webhook.VerifyAt(secret, h, []byte(`{"test": 1}`), 5*time.Minute, now)
	fmt.Println(errors.Is(err, webhook.ErrInvalidSignature))
	err = webhook.VerifyAt(secret, h, body, 5*time.Minute, now.Add(time.Hour))
	fmt.Println(errors.Is(err, webhook.ErrTimestampOutOfRange))
	// Output:
	// <nil>
	// true
	// true
}

// With an ed25519 key, the endpoint signs with the whsk_ key and the
// receiver holds only the whpk_ public key.
func ExampleNewSigningKey() {
	sk, pk := webhook.NewSigningKey()
	body := []byte(`{"type":"invoice.paid"}`)
	at := time.Unix(1700000000, 0)
	h := http.Header{}
	_ = webhook.StandardSigner{}.Sign(h, &webhook.Message{ID: "evt_1", Timestamp: at, Body: body, Secrets: []webhook.Secret{sk}})

	v, _ := webhook.NewVerifier(pk)
	fmt.Println(v.VerifyAt(h, body, at))
	fmt.Println(sk)
	// Output:
	// <nil>
	// Secret{Key:[redacted]}
}
