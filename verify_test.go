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

	"github.com/stretchr/testify/require"
)

func TestVerifySpecKnownAnswer(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", strconv.Itoa(specTS))
	h.Set("webhook-signature", specSig)
	now := time.Unix(specTS, 0)
	require.NoError(t, VerifyAt(specSecret, h, []byte(specBody), 0, now))
	require.ErrorIs(t, VerifyAt(specSecret, h, []byte(specBody+" "), 0, now), ErrInvalidSignature)
	require.ErrorIs(t, Verify(specSecret, h, []byte(specBody), time.Minute), ErrTimestampOutOfRange)
}

func TestVerify(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	sec := NewSecret()
	other := NewSecret()
	sk, pk := NewSigningKey()
	tol := 5 * time.Minute

	signed := func(at time.Time, secrets ...Secret) http.Header {
		return sign(t, StandardSigner{}, "evt_1", at, body, secrets...)
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
	good := signed(now, sec)
	goodSig := good.Get(HeaderSignature)

	tests := []struct {
		name string
		key  string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"Valid", sec.Key, good, body, now, nil},
		{"MissingID", sec.Key, with(good, HeaderID, ""), body, now, ErrMissingHeader},
		{"MissingTimestamp", sec.Key, with(good, HeaderTimestamp, ""), body, now, ErrMissingHeader},
		{"MissingSignature", sec.Key, with(good, HeaderSignature, ""), body, now, ErrMissingHeader},
		{"BlankSignature", sec.Key, with(good, HeaderSignature, "   "), body, now, ErrMissingHeader},
		{"NoHeaders", sec.Key, http.Header{}, body, now, ErrMissingHeader},
		{"EmptyV1", sec.Key, with(good, HeaderSignature, "v1,"), body, now, ErrInvalidSignature},
		{"NoComma", sec.Key, with(good, HeaderSignature, "v1"), body, now, ErrInvalidSignature},
		{"BodyByteChanged", sec.Key, good, []byte(strings.Replace(string(body), "paid", "pain", 1)), now, ErrInvalidSignature},
		{"BodyEmpty", sec.Key, good, nil, now, ErrInvalidSignature},
		{"IDByteChanged", sec.Key, with(good, HeaderID, "evt_2"), body, now, ErrInvalidSignature},
		{"TimestampChanged", sec.Key, with(good, HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body, now, ErrInvalidSignature},
		{"TimestampLeadingZero", sec.Key, with(good, HeaderTimestamp, "0"+strconv.FormatInt(now.Unix(), 10)), body, now, ErrInvalidSignature},
		{"TimestampNotNumber", sec.Key, with(good, HeaderTimestamp, "yesterday"), body, now, ErrMalformedHeader},
		{"TimestampNegative", sec.Key, with(good, HeaderTimestamp, "-1"), body, now, ErrMalformedHeader},
		{"TimestampPlus", sec.Key, with(good, HeaderTimestamp, "+1700000000"), body, now, ErrMalformedHeader},
		{"TimestampHuge", sec.Key, with(good, HeaderTimestamp, strings.Repeat("9", 30)), body, now, ErrMalformedHeader},
		{"TimestampFarFuture", sec.Key, with(good, HeaderTimestamp, strings.Repeat("9", 18)), body, now, ErrTimestampOutOfRange},
		{"OldAtBoundary", sec.Key, signed(now.Add(-tol), sec), body, now, nil},
		{"OldPastBoundary", sec.Key, signed(now.Add(-tol-time.Second), sec), body, now, ErrTimestampOutOfRange},
		{"FutureAtBoundary", sec.Key, signed(now.Add(tol), sec), body, now, nil},
		{"FuturePastBoundary", sec.Key, signed(now.Add(tol+time.Second), sec), body, now, ErrTimestampOutOfRange},
		{"SubSecondClockAtBoundary", sec.Key, signed(now.Add(-tol), sec), body, now.Add(time.Millisecond), ErrTimestampOutOfRange},
		{"WrongKey", other.Key, good, body, now, ErrInvalidSignature},
		{"UnknownVersionAmongSeveral", sec.Key, with(good, HeaderSignature, "v2,abc v1,"+strings.Repeat("A", 43)+"= "+goodSig+" v9,zzz"), body, now, nil},
		{"OnlyUnknownVersions", sec.Key, with(good, HeaderSignature, "v2,"+goodSig[3:]+" v1b,"+goodSig[3:]), body, now, ErrInvalidSignature},
		{"ExtraSpaces", sec.Key, with(good, HeaderSignature, "  "+goodSig+"  "), body, now, nil},
		{"TruncatedSignature", sec.Key, with(good, HeaderSignature, goodSig[:len(goodSig)-2]), body, now, ErrInvalidSignature},
		{"V1AsV1a", sec.Key, with(good, HeaderSignature, "v1a,"+goodSig[3:]), body, now, ErrInvalidSignature},
		{"RotatedOld", sec.Key, signed(now, sec, other), body, now, nil},
		{"RotatedNew", other.Key, signed(now, sec, other), body, now, nil},
		{"RotatedNeither", NewSecret().Key, signed(now, sec, other), body, now, ErrInvalidSignature},
		{"V1aPublicKey", pk, signed(now, sec, sk), body, now, nil},
		{"V1aSigningKey", sk.Key, signed(now, sk), body, now, nil},
		{"V1aBodyChanged", pk, signed(now, sk), []byte("{}"), now, ErrInvalidSignature},
		{"V1aWrongKey", pk, signed(now, sec), body, now, ErrInvalidSignature},
		{"V1aUnpadded", pk, with(good, HeaderSignature, "v1a,"+strings.Repeat("0", 88)), body, now, ErrInvalidSignature},
		{"V1Unpadded", sec.Key, with(good, HeaderSignature, "v1,"+strings.Repeat("0", 44)), body, now, ErrInvalidSignature},
		{"BadKey", "whsec_short", good, body, now, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyAt(tt.key, tt.h, tt.body, tol, tt.now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.NotContains(t, err.Error(), strings.TrimPrefix(sec.Key, SecretPrefix))
		})
	}
}

func TestVerifyHeaderNames(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	sec := NewSecret()
	std := sign(t, StandardSigner{}, "msg_1", now, []byte("x"), sec)

	t.Run("Svix", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		h.Set("svix-id", std.Get(HeaderID))
		h.Set("svix-timestamp", std.Get(HeaderTimestamp))
		h.Set("svix-signature", std.Get(HeaderSignature))
		require.NoError(t, VerifyAt(sec.Key, h, []byte("x"), 0, now))
		h.Del("svix-signature")
		require.ErrorIs(t, VerifyAt(sec.Key, h, []byte("x"), 0, now), ErrMissingHeader)
	})

	t.Run("LowerCaseMapKeys", func(t *testing.T) {
		t.Parallel()
		h := http.Header{
			"webhook-id":        {std.Get(HeaderID)},
			"webhook-timestamp": {std.Get(HeaderTimestamp)},
			"webhook-signature": {std.Get(HeaderSignature)},
		}
		require.NoError(t, VerifyAt(sec.Key, h, []byte("x"), 0, now))
	})

	t.Run("SeveralHeaderLines", func(t *testing.T) {
		t.Parallel()
		h := std.Clone()
		h[HeaderSignature] = []string{"v1,bogus", std.Get(HeaderSignature)}
		require.NoError(t, VerifyAt(sec.Key, h, []byte("x"), 0, now))
	})

	t.Run("NoMixingFamilies", func(t *testing.T) {
		t.Parallel()
		h := std.Clone()
		h.Del(HeaderSignature)
		h.Set("svix-signature", std.Get(HeaderSignature))
		require.ErrorIs(t, VerifyAt(sec.Key, h, []byte("x"), 0, now), ErrMissingHeader)
	})
}

func TestVerifier(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte("payload")
	old, cur := NewSecret(), NewSecret()
	sk, pk := NewSigningKey()
	v, err := NewVerifier(cur.Key, pk)
	require.NoError(t, err)

	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, old, cur), body, now))
	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, sk), body, now))
	require.ErrorIs(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, old), body, now), ErrInvalidSignature)
	require.ErrorIs(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, cur), body, now.Add(ToleranceDefault+time.Second)), ErrTimestampOutOfRange)

	v.Tolerance = time.Hour
	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, cur), body, now.Add(59*time.Minute)))
	require.NoError(t, v.Verify(sign(t, StandardSigner{}, "e", time.Now(), body, cur), body))

	_, err = NewVerifier()
	require.ErrorIs(t, err, ErrInvalidSecret)
	_, err = NewVerifier(cur.Key, "whsec_x")
	require.ErrorIs(t, err, ErrInvalidSecret)
	require.ErrorIs(t, err, ErrKeyEncoding)
}

func TestVerifyEntryLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	sec := NewSecret()
	h := sign(t, StandardSigner{}, "e", now, nil, sec)
	junk := strings.Repeat("v1,"+strings.Repeat("A", 43)+"= ", maxSignatureEntries)
	h.Set(HeaderSignature, junk+h.Get(HeaderSignature))
	require.ErrorIs(t, VerifyAt(sec.Key, h, nil, 0, now), ErrInvalidSignature)
}

// FuzzVerify feeds arbitrary headers and bodies to Verify. It must never
// panic, and it may accept only when the signature header really carries
// HMAC-SHA256(key, id.ts.body), computed here independently.
func FuzzVerify(f *testing.F) {
	const key = specSecret
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, SecretPrefix))
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
	spec.Set(HeaderID, specID)
	spec.Set(HeaderTimestamp, ts)
	spec.Set(HeaderSignature, specSig)

	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		// The spec's valid signature accepts its own body and no other.
		err := VerifyAt(key, spec, body, time.Minute, time.Unix(specTS, 0))
		if (err == nil) != (string(body) == specBody) {
			t.Fatalf("spec signature with body %q: %v", body, err)
		}

		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		now := time.Unix(specTS, 0)
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil && n > 0 && n < 1<<40 {
			now = time.Unix(n, 0)
		}
		err = VerifyAt(key, h, body, time.Minute, now)
		if err != nil {
			return
		}
		// Accepted: the header value must hold the true signature.
		mac := hmac.New(sha256.New, raw)
		mac.Write([]byte(h.Get(HeaderID) + "." + h.Get(HeaderTimestamp) + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, entry := range strings.Fields(h.Get(HeaderSignature)) {
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
