package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSign compares StandardSigner, headers included, with the raw
// cost of the same HMACs: hmac.New with the decoded key, Write of
// "id.ts." and the body, Sum, once per key. The ratio of ns/op of
// Standard to Raw at the same key count is the signing overhead.
func BenchmarkSign(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	const id = "evt_2bN3fZp5yH1x2c3v4b5n6m7q8w9"
	ts := time.Unix(1700000000, 0)
	secrets := []Secret{NewSecret(), NewSecret()}
	rawKeys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.Key, SecretPrefix))
		if err != nil {
			b.Fatal(err)
		}
		rawKeys[i] = k
	}

	for _, n := range []int{1, 2} {
		b.Run("Keys="+strconv.Itoa(n)+"/Raw", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
			var sum [sha256.Size]byte
			for b.Loop() {
				for _, k := range rawKeys[:n] {
					mac := hmac.New(sha256.New, k)
					mac.Write([]byte(prefix))
					mac.Write(body)
					mac.Sum(sum[:0])
				}
			}
		})
		b.Run("Keys="+strconv.Itoa(n)+"/Standard", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			h := make(http.Header, 8)
			m := &Message{ID: id, Timestamp: ts, Body: body, Secrets: secrets[:n]}
			for b.Loop() {
				if err := (StandardSigner{}).Sign(h, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Keys=1/HMACHex", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		h := make(http.Header, 8)
		m := &Message{ID: id, Timestamp: ts, Body: body, Secrets: secrets[:1]}
		for b.Loop() {
			if err := (HMACHexSigner{}).Sign(h, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Keys=1/Ed25519", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		sk, _ := NewSigningKey()
		h := make(http.Header, 8)
		m := &Message{ID: id, Timestamp: ts, Body: body, Secrets: []Secret{sk}}
		for b.Loop() {
			if err := (StandardSigner{}).Sign(h, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
