package signature_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
)

// refV1 is an independent v1 signer written from the specification.
func refV1(t testing.TB, secret, id string, ts int64, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSign(t *testing.T) {
	t.Parallel()

	t.Run("OneEntryPerKeyInOrder", func(t *testing.T) {
		t.Parallel()
		old, cur := signature.NewSecret(), signature.NewSecret()
		sk, pk := signature.NewSigningKey()
		ts := time.Unix(1700000000, 0)
		body := []byte(`{"a":1}`)
		sig, err := signature.Sign("evt_1", ts, body, old, cur, sk)
		require.NoError(t, err)
		entries := strings.Split(sig, " ")
		require.Len(t, entries, 3)
		require.Equal(t, refV1(t, old, "evt_1", ts.Unix(), body), entries[0])
		require.Equal(t, refV1(t, cur, "evt_1", ts.Unix(), body), entries[1])

		// v1a checked against crypto/ed25519 directly.
		v, ok := strings.CutPrefix(entries[2], "v1a,")
		require.True(t, ok)
		raw, err := base64.StdEncoding.DecodeString(v)
		require.NoError(t, err)
		pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, []byte("evt_1.1700000000."+string(body)), raw))
		require.False(t, ed25519.Verify(pub, []byte("evt_1.1700000001."+string(body)), raw))
	})

	t.Run("NoKeyNoEntry", func(t *testing.T) {
		t.Parallel()
		sig, err := signature.Sign("e", time.Unix(1, 0), nil)
		require.NoError(t, err)
		require.Empty(t, sig)
	})

	t.Run("BadKeys", func(t *testing.T) {
		t.Parallel()
		_, pk := signature.NewSigningKey()
		_, err := signature.Sign("e", time.Unix(1, 0), nil, pk)
		require.ErrorIs(t, err, signature.ErrKeyPrefix)
		_, err = signature.Sign("e", time.Unix(1, 0), nil, "whsec_!!!")
		require.ErrorIs(t, err, signature.ErrKeyEncoding)
		require.NotContains(t, err.Error(), "!!!")
	})
}

// BenchmarkSign measures one v1 and one v1a signature of 1 KiB.
func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	ts := []byte("1700000000")
	sk, _ := signature.NewSigningKey()
	for _, key := range []string{signature.NewSecret(), sk} {
		k, err := signature.ParseKey(key)
		require.NoError(b, err)
		b.Run(k.Kind().String(), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			buf := make([]byte, 0, 128)
			for b.Loop() {
				if _, err := k.AppendSignature(buf[:0], "evt_1", ts, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
