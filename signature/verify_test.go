package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
)

func TestVerify(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	sec := signature.NewSecret()
	other := signature.NewSecret()
	sk, pk := signature.NewSigningKey()
	tol := 5 * time.Minute

	sign := func(at time.Time, keys ...string) http.Header {
		return signed(t, "evt_1", at, body, keys...)
	}
	with := func(h http.Header, name, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(name)
		} else {
			h.Set(name, value)
		}
		return h
	}
	good := sign(now, sec)
	goodSig := good.Get(signature.HeaderSignature)
	const (
		hid  = signature.HeaderID
		hts  = signature.HeaderTimestamp
		hsig = signature.HeaderSignature
	)

	tests := []struct {
		name string
		key  string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"Valid", sec, good, body, now, nil},
		{"MissingID", sec, with(good, hid, ""), body, now, signature.ErrMissingHeader},
		{"MissingTimestamp", sec, with(good, hts, ""), body, now, signature.ErrMissingHeader},
		{"MissingSignature", sec, with(good, hsig, ""), body, now, signature.ErrMissingHeader},
		{"BlankSignature", sec, with(good, hsig, "   "), body, now, signature.ErrMissingHeader},
		{"NoHeaders", sec, http.Header{}, body, now, signature.ErrMissingHeader},
		{"EmptyV1", sec, with(good, hsig, "v1,"), body, now, signature.ErrInvalidSignature},
		{"NoComma", sec, with(good, hsig, "v1"), body, now, signature.ErrInvalidSignature},
		{"BodyByteChanged", sec, good, []byte(strings.Replace(string(body), "paid", "pain", 1)), now, signature.ErrInvalidSignature},
		{"BodyEmpty", sec, good, nil, now, signature.ErrInvalidSignature},
		{"IDByteChanged", sec, with(good, hid, "evt_2"), body, now, signature.ErrInvalidSignature},
		{"TimestampChanged", sec, with(good, hts, strconv.FormatInt(now.Unix()+1, 10)), body, now, signature.ErrInvalidSignature},
		{"TimestampLeadingZero", sec, with(good, hts, "0"+strconv.FormatInt(now.Unix(), 10)), body, now, signature.ErrInvalidSignature},
		{"TimestampNotNumber", sec, with(good, hts, "yesterday"), body, now, signature.ErrMalformedHeader},
		{"TimestampNegative", sec, with(good, hts, "-1"), body, now, signature.ErrMalformedHeader},
		{"TimestampPlus", sec, with(good, hts, "+1700000000"), body, now, signature.ErrMalformedHeader},
		{"TimestampHuge", sec, with(good, hts, strings.Repeat("9", 30)), body, now, signature.ErrMalformedHeader},
		{"TimestampFarFuture", sec, with(good, hts, strings.Repeat("9", 18)), body, now, signature.ErrTimestampOutOfRange},
		{"OldAtBoundary", sec, sign(now.Add(-tol), sec), body, now, nil},
		{"OldPastBoundary", sec, sign(now.Add(-tol-time.Second), sec), body, now, signature.ErrTimestampOutOfRange},
		{"FutureAtBoundary", sec, sign(now.Add(tol), sec), body, now, nil},
		{"FuturePastBoundary", sec, sign(now.Add(tol+time.Second), sec), body, now, signature.ErrTimestampOutOfRange},
		{"SubSecondClockAtBoundary", sec, sign(now.Add(-tol), sec), body, now.Add(time.Millisecond), signature.ErrTimestampOutOfRange},
		{"WrongKey", other, good, body, now, signature.ErrInvalidSignature},
		{"UnknownVersionAmongSeveral", sec, with(good, hsig, "v2,abc v1,"+strings.Repeat("A", 43)+"= "+goodSig+" v9,zzz"), body, now, nil},
		{"OnlyUnknownVersions", sec, with(good, hsig, "v2,"+goodSig[3:]+" v1b,"+goodSig[3:]), body, now, signature.ErrInvalidSignature},
		{"ExtraSpaces", sec, with(good, hsig, "  "+goodSig+"  "), body, now, nil},
		{"TruncatedSignature", sec, with(good, hsig, goodSig[:len(goodSig)-2]), body, now, signature.ErrInvalidSignature},
		{"V1AsV1a", sec, with(good, hsig, "v1a,"+goodSig[3:]), body, now, signature.ErrInvalidSignature},
		{"RotatedOld", sec, sign(now, sec, other), body, now, nil},
		{"RotatedNew", other, sign(now, sec, other), body, now, nil},
		{"RotatedNeither", signature.NewSecret(), sign(now, sec, other), body, now, signature.ErrInvalidSignature},
		{"V1aPublicKey", pk, sign(now, sec, sk), body, now, nil},
		{"V1aSigningKey", sk, sign(now, sk), body, now, nil},
		{"V1aBodyChanged", pk, sign(now, sk), []byte("{}"), now, signature.ErrInvalidSignature},
		{"V1aWrongKey", pk, sign(now, sec), body, now, signature.ErrInvalidSignature},
		{"V1aAsV1", pk, with(good, hsig, "v1,"+sign(now, sk).Get(hsig)[4:]), body, now, signature.ErrInvalidSignature},
		{"V1aUnpadded", pk, with(good, hsig, "v1a,"+strings.Repeat("0", 88)), body, now, signature.ErrInvalidSignature},
		{"V1Unpadded", sec, with(good, hsig, "v1,"+strings.Repeat("0", 44)), body, now, signature.ErrInvalidSignature},
		{"BadKey", "whsec_short", good, body, now, signature.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyAt(tt.key, tt.h, tt.body, tol, tt.now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.NotContains(t, err.Error(), strings.TrimPrefix(sec, signature.SecretPrefix))
		})
	}
}

// TestToleranceWindows checks where the accepted window ends, either way,
// for the given tolerance and for the default one.
func TestToleranceWindows(t *testing.T) {
	t.Parallel()

	sent := time.Unix(1700000000, 0)
	sec := signature.NewSecret()
	h := signed(t, "evt_1", sent, nil, sec)

	tests := []struct {
		name      string
		tolerance time.Duration
		offset    time.Duration // receiver clock minus sent time
		want      error
	}{
		{"Exact", time.Minute, 0, nil},
		{"LateInside", time.Minute, time.Minute, nil},
		{"LateOutside", time.Minute, time.Minute + time.Nanosecond, signature.ErrTimestampOutOfRange},
		{"EarlyInside", time.Minute, -time.Minute, nil},
		{"EarlyOutside", time.Minute, -time.Minute - time.Nanosecond, signature.ErrTimestampOutOfRange},
		{"ZeroMeansDefaultInside", 0, signature.ToleranceDefault, nil},
		{"ZeroMeansDefaultOutside", 0, signature.ToleranceDefault + time.Second, signature.ErrTimestampOutOfRange},
		{"NegativeMeansDefault", -time.Second, signature.ToleranceDefault - time.Second, nil},
		{"Wide", 24 * time.Hour, -23 * time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signature.VerifyAt(sec, h, nil, tt.tolerance, sent.Add(tt.offset))
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
			v, err := signature.NewVerifier(sec)
			require.NoError(t, err)
			if tt.tolerance != 0 {
				v = v.WithTolerance(tt.tolerance)
			}
			err = v.VerifyAt(h, nil, sent.Add(tt.offset))
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestVerifyHeaderNames(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	sec := signature.NewSecret()
	std := signed(t, "msg_1", now, []byte("x"), sec)

	t.Run("Svix", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		h.Set("svix-id", std.Get(signature.HeaderID))
		h.Set("svix-timestamp", std.Get(signature.HeaderTimestamp))
		h.Set("svix-signature", std.Get(signature.HeaderSignature))
		require.NoError(t, signature.VerifyAt(sec, h, []byte("x"), 0, now))
		h.Del("svix-signature")
		require.ErrorIs(t, signature.VerifyAt(sec, h, []byte("x"), 0, now), signature.ErrMissingHeader)
	})

	t.Run("LowerCaseMapKeys", func(t *testing.T) {
		t.Parallel()
		h := http.Header{
			"webhook-id":        {std.Get(signature.HeaderID)},
			"webhook-timestamp": {std.Get(signature.HeaderTimestamp)},
			"webhook-signature": {std.Get(signature.HeaderSignature)},
		}
		require.NoError(t, signature.VerifyAt(sec, h, []byte("x"), 0, now))
	})

	t.Run("SeveralHeaderLines", func(t *testing.T) {
		t.Parallel()
		h := std.Clone()
		h[signature.HeaderSignature] = []string{"v1,bogus", std.Get(signature.HeaderSignature)}
		require.NoError(t, signature.VerifyAt(sec, h, []byte("x"), 0, now))
	})

	t.Run("NoMixingFamilies", func(t *testing.T) {
		t.Parallel()
		h := std.Clone()
		h.Del(signature.HeaderSignature)
		h.Set("svix-signature", std.Get(signature.HeaderSignature))
		require.ErrorIs(t, signature.VerifyAt(sec, h, []byte("x"), 0, now), signature.ErrMissingHeader)
	})
}

func TestVerifier(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte("payload")
	old, cur := signature.NewSecret(), signature.NewSecret()
	sk, pk := signature.NewSigningKey()
	v, err := signature.NewVerifier(cur, pk)
	require.NoError(t, err)
	require.Equal(t, signature.ToleranceDefault, v.Tolerance())

	require.NoError(t, v.VerifyAt(signed(t, "e", now, body, old, cur), body, now))
	require.NoError(t, v.VerifyAt(signed(t, "e", now, body, sk), body, now))
	require.ErrorIs(t, v.VerifyAt(signed(t, "e", now, body, old), body, now), signature.ErrInvalidSignature)
	require.ErrorIs(t, v.VerifyAt(signed(t, "e", now, body, cur), body, now.Add(signature.ToleranceDefault+time.Second)), signature.ErrTimestampOutOfRange)

	wide := v.WithTolerance(time.Hour)
	require.Equal(t, time.Hour, wide.Tolerance())
	require.NoError(t, wide.VerifyAt(signed(t, "e", now, body, cur), body, now.Add(59*time.Minute)))
	require.NoError(t, wide.Verify(signed(t, "e", time.Now(), body, cur), body))
	require.ErrorIs(t, v.VerifyAt(signed(t, "e", now, body, cur), body, now.Add(59*time.Minute)), signature.ErrTimestampOutOfRange,
		"WithTolerance leaves the original unchanged")
	require.Equal(t, signature.ToleranceDefault, v.WithTolerance(0).Tolerance())

	var zero signature.Verifier
	require.ErrorIs(t, zero.VerifyAt(signed(t, "e", now, body, cur), body, now), signature.ErrInvalidSignature, "no key accepts nothing")

	_, err = signature.NewVerifier()
	require.ErrorIs(t, err, signature.ErrInvalidSecret)
	_, err = signature.NewVerifier(cur, "whsec_x")
	require.ErrorIs(t, err, signature.ErrInvalidSecret)
	require.ErrorIs(t, err, signature.ErrKeyEncoding)
}

func TestVerifyEntryLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	sec := signature.NewSecret()
	h := signed(t, "e", now, nil, sec)
	junk := strings.Repeat("v1,"+strings.Repeat("A", 43)+"= ", signature.MaxSignatureEntries)
	ok := h.Clone()
	ok.Set(signature.HeaderSignature, junk[:len(junk)-len("v1,"+strings.Repeat("A", 43)+"= ")]+h.Get(signature.HeaderSignature))
	require.NoError(t, signature.VerifyAt(sec, ok, nil, 0, now), "the last entry within the limit counts")
	h.Set(signature.HeaderSignature, junk+h.Get(signature.HeaderSignature))
	require.ErrorIs(t, signature.VerifyAt(sec, h, nil, 0, now), signature.ErrInvalidSignature)
}

// FuzzVerify feeds arbitrary headers and bodies to Verify. It must never
// panic, and it may accept only when the signature header really carries
// HMAC-SHA256(key, id.ts.body), computed here independently.
func FuzzVerify(f *testing.F) {
	const key = specSecret
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, signature.SecretPrefix))
	ts := strconv.Itoa(specTS)
	f.Add(specID, ts, specSig, []byte(specBody))
	f.Add(specID, ts, "v2,x "+specSig+" v1,", []byte(specBody))
	f.Add(specID, ts, specSig, []byte(specBody+"x"))
	f.Add(specID, "1614265331", specSig, []byte(specBody))
	f.Add("", ts, specSig, []byte(specBody))
	f.Add(specID, "", "v1,,,, ,v1 v1a,AAAA", []byte{})
	f.Add(specID, "0001614265330", "v1a,"+strings.Repeat("A", 86)+"==", []byte(specBody))
	f.Add("a.b", "1614265330", "v1,"+strings.Repeat("/", 43)+"=", []byte("\x00\xff"))

	spec := http.Header{}
	spec.Set(signature.HeaderID, specID)
	spec.Set(signature.HeaderTimestamp, ts)
	spec.Set(signature.HeaderSignature, specSig)

	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		// The spec's valid signature accepts its own body and no other.
		err := signature.VerifyAt(key, spec, body, time.Minute, time.Unix(specTS, 0))
		if (err == nil) != (string(body) == specBody) {
			t.Fatalf("spec signature with body %q: %v", body, err)
		}

		h := http.Header{}
		h.Set(signature.HeaderID, id)
		h.Set(signature.HeaderTimestamp, ts)
		h.Set(signature.HeaderSignature, sig)
		now := time.Unix(specTS, 0)
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil && n > 0 && n < 1<<40 {
			now = time.Unix(n, 0)
		}
		err = signature.VerifyAt(key, h, body, time.Minute, now)
		if err != nil {
			return
		}
		// Accepted: the header value must hold the true signature.
		mac := hmac.New(sha256.New, raw)
		mac.Write([]byte(h.Get(signature.HeaderID) + "." + h.Get(signature.HeaderTimestamp) + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, entry := range strings.Fields(h.Get(signature.HeaderSignature)) {
			if v, ok := strings.CutPrefix(entry, "v1,"); ok {
				got, err := base64.StdEncoding.DecodeString(v)
				if err == nil && hmac.Equal(got, want) {
					return
				}
			}
		}
		t.Fatalf("accepted a wrong signature: id %q ts %q sig %q body %q", id, ts, sig, body)
	})
}

// BenchmarkVerify measures a receiver's cost per request: one whsec_ key,
// 1 KiB body.
func BenchmarkVerify(b *testing.B) {
	body := []byte(strings.Repeat("x", 1024))
	sec := signature.NewSecret()
	now := time.Unix(1700000000, 0)
	h := signed(b, "evt_1", now, body, sec)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := signature.VerifyAt(sec, h, body, 0, now); err != nil {
			b.Fatal(err)
		}
	}
}
