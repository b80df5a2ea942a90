package jsonnet

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeJSON checks the fast path's JSON decoding against
// encoding/json, which go-jsonnet's std.parseJson uses: the same texts
// are refused, the same values decoded, whole or field by field.
func FuzzDecodeJSON(f *testing.F) {
	for _, p := range fastPayloads() {
		f.Add(p)
	}
	for _, s := range []string{`{"a":1,"a":2}`, `"\ud800"`, `[1e400]`, `{"a":"` + "\x01" + `"}`, `{"\u0061":1}`, ` {} `, `{}x`, `-01`, `1.`, `"\x"`, "\"\xff\"", `{"a" 1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want any
		wantErr := json.Unmarshal([]byte(validString(s)), &want)
		got, err := decodeJSONText(s)
		require.Equal(t, wantErr == nil, err == nil, "%q: %v", s, wantErr)
		var lazy lazyPayload
		lerr := lazy.check(s)
		require.Equal(t, wantErr == nil, lerr == nil, "%q: %v", s, wantErr)
		if wantErr != nil {
			return
		}
		require.Equal(t, want, got)
		obj, isObj := want.(map[string]any)
		require.Equal(t, isObj, lazy.object)
		for k, v := range obj {
			fv, found, err := lazy.field(s, k)
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, v, fv, "field %q", k)
		}
		_, found, err := lazy.field(s, "\x00absent")
		require.NoError(t, err)
		require.False(t, found)
	})
}

func TestDecodeJSONDepth(t *testing.T) {
	t.Parallel()
	for _, n := range []int{jsonMaxDepth, jsonMaxDepth + 1} {
		s := ""
		for range n {
			s += "["
		}
		for range n {
			s += "]"
		}
		var want any
		wantErr := json.Unmarshal([]byte(s), &want)
		_, err := decodeJSONText(s)
		require.Equal(t, wantErr == nil, err == nil, n)
	}
}
