package signature_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hooklet/webhook/signature"
)

// A receiver verifies the exact body it read against the request headers.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	now := time.Unix(1614265330, 0) // in a receiver: signature.Verify reads the clock

	fmt.Println(signature.VerifyAt(secret, h, body, 5*time.Minute, now))
	err := signature.VerifyAt(secret, h, []byte(`{"test": 1}`), 5*time.Minute, now)
	fmt.Println(errors.Is(err, signature.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
}

// During a rotation a receiver accepts the old and the new key, and an
// ed25519 public key, with a tolerance of its own.
func ExampleNewVerifier() {
	old, cur := signature.NewSecret(), signature.NewSecret()
	sk, pk := signature.NewSigningKey()
	v, err := signature.NewVerifier(cur, pk)
	if err != nil {
		panic(err)
	}
	v = v.WithTolerance(time.Minute)

	at := time.Unix(1700000000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	for _, key := range []string{cur, sk, old} {
		sig, _ := signature.Sign("evt_1", at, body, key)
		h := http.Header{}
		h.Set(signature.HeaderID, "evt_1")
		h.Set(signature.HeaderTimestamp, "1700000000")
		h.Set(signature.HeaderSignature, sig)
		fmt.Println(v.VerifyAt(h, body, at.Add(30*time.Second)))
	}
	fmt.Println(v)
	// Output:
	// <nil>
	// <nil>
	// webhook: invalid signature
	// Verifier{Keys:2 Tolerance:1m0s}
}
