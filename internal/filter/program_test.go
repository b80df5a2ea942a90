package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testPayload = `{
	"amount": 150, "big": 12345678901234567890, "price": 9.5, "currency": "usd",
	"status": "paid", "nothing": null, "flag": true, "count_str": "10",
	"customer": {"tier": "gold", "email": "ann@example.com", "tags": ["vip", "eu"]},
	"items": [{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 5, "tags": ["x"]}],
	"matrix": [[1, 2], [3]], "empty": [], "obj": {"a": 1, "b": [1, 2]},
	"created": "2025-01-15T09:00:00.5Z", "dup": 1, "dup": 2,
	"mixed": ["a", 1, null, {"k": "v"}], "0": "zero key", "dupobj": {"a": 1, "b": 0, "a": 2}
}`

func testDocument() *Document {
	return &Document{
		ID: "evt_1", Type: "invoice.paid", Tenant: "t1",
		Time:       time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC),
		Attributes: map[string]string{"group": "management", "kind": "APIService", "n": "7"},
		Data:       []byte(testPayload),
	}
}

// TestMatch pins the semantics docs/filtering.md describes, operator by
// operator and JSON type by JSON type.
func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		// Empty filters.
		{"EmptyObject", `{}`, true},
		{"Null", `null`, true},

		// Implicit equality and the event envelope.
		{"EqString", `{"data.status": "paid"}`, true},
		{"EqStringOther", `{"data.status": "open"}`, false},
		{"EqNumber", `{"data.amount": 150}`, true},
		{"EqNumberOtherForm", `{"data.amount": 1.5e2}`, true},
		{"EqNumberIsNotString", `{"data.amount": "150"}`, false},
		{"EqStringIsNotNumber", `{"data.count_str": 10}`, false},
		{"EqBigIntegerExact", `{"data.big": 12345678901234567890}`, true},
		{"EqBigIntegerOffByOne", `{"data.big": 12345678901234567891}`, false},
		{"EqBool", `{"data.flag": true}`, true},
		{"EqBoolIsNotString", `{"data.flag": "true"}`, false},
		{"EqNull", `{"data.nothing": null}`, true},
		{"NullIsNotMissing", `{"data.absent": null}`, false},
		{"EqObjectAnyOrder", `{"data.obj": {"$eq": {"b": [1, 2], "a": 1}}}`, true},
		{"EqObjectSubsetIsNotEqual", `{"data.obj": {"$eq": {"a": 1}}}`, false},
		{"EqEmptyObjectLiteral", `{"data.obj": {}}`, false},
		{"EqArrayWhole", `{"data.customer.tags": ["vip", "eu"]}`, true},
		{"EqArrayOrderMatters", `{"data.customer.tags": ["eu", "vip"]}`, false},
		{"EqArrayAnyElement", `{"data.customer.tags": "eu"}`, true},
		{"EqArrayNoElement", `{"data.customer.tags": "us"}`, false},
		{"EqEmptyArray", `{"data.empty": []}`, true},
		{"NestedArrayElementIsArray", `{"data.matrix": [3]}`, true},
		{"NestedArrayNotEntered", `{"data.matrix": 3}`, false},
		{"DuplicateKeyLastWins", `{"data.dup": 2}`, true},
		{"DuplicateKeyEarlierLost", `{"data.dup": 1}`, false},
		{"DuplicateKeyObjectEqual", `{"data.dupobj": {"$eq": {"b": 0, "a": 2}}}`, true},
		{"DuplicateKeyObjectEarlierLost", `{"data.dupobj": {"$eq": {"a": 1, "b": 0}}}`, false},
		{"DuplicateKeyOperandLastWins", `{"data.dupobj": {"$eq": {"a": 1, "b": 0, "a": 2}}}`, true},
		{"MixedArrayObjectElement", `{"data.mixed": {"$eq": {"k": "v"}}}`, true},
		{"MixedArrayNullElement", `{"data.mixed": null}`, true},
		{"TopID", `{"id": "evt_1"}`, true},
		{"TopType", `{"type": "invoice.paid"}`, true},
		{"TopTenant", `{"tenant": "t1"}`, true},
		{"TopAttribute", `{"attributes.kind": "APIService"}`, true},
		{"AttributeIsString", `{"attributes.n": 7}`, false},
		{"AttributeMissing", `{"attributes.scope": "x"}`, false},
		{"UnknownTopField", `{"payload.status": "paid"}`, false},
		{"WholeData", `{"data": {"$exist": true}}`, true},

		// Paths.
		{"NestedForm", `{"data": {"customer": {"tier": "gold"}}}`, true},
		{"NestedFormMixedWithDots", `{"data": {"customer.tier": "gold", "status": "paid"}}`, true},
		{"NestedFormOneFails", `{"data": {"customer.tier": "gold", "status": "open"}}`, false},
		{"IndexStep", `{"data.items.1.sku": "b2"}`, true},
		{"IndexStepOutOfRange", `{"data.items.2.sku": {"$exist": true}}`, false},
		{"IndexStepOnObjectIsName", `{"data.0": "zero key"}`, true},
		{"NameStepReachesIntoArray", `{"data.items.sku": "b2"}`, true},
		{"NameStepIntoArrayNoMatch", `{"data.items.sku": "c3"}`, false},
		{"DollarStep", `{"data.items.$.qty": {"$gt": 4}}`, true},
		{"DollarStepOnNestedArrays", `{"data.matrix.$": 3}`, true},
		{"ArrayOfArraysThroughName", `{"data.items.tags": "x"}`, true},
		{"PathThroughScalar", `{"data.status.x": {"$exist": true}}`, false},

		// $eq and $neq.
		{"EqOp", `{"data.currency": {"$eq": "usd"}}`, true},
		{"NeqOp", `{"data.currency": {"$neq": "eur"}}`, true},
		{"NeqOpSame", `{"data.currency": {"$neq": "usd"}}`, false},
		{"NeqMissingMatches", `{"data.absent": {"$neq": "x"}}`, true},
		{"NeqArrayAnyElementEqualFails", `{"data.customer.tags": {"$neq": "vip"}}`, false},
		{"NeqArrayNoElementEqual", `{"data.customer.tags": {"$neq": "us"}}`, true},
		{"NeqNullOnNull", `{"data.nothing": {"$neq": null}}`, false},
		{"NeqTypeDiffers", `{"data.amount": {"$neq": "150"}}`, true},

		// Ordering.
		{"GtNumber", `{"data.amount": {"$gt": 100}}`, true},
		{"GtNumberEqual", `{"data.amount": {"$gt": 150}}`, false},
		{"GteNumberEqual", `{"data.amount": {"$gte": 150}}`, true},
		{"LtFloat", `{"data.price": {"$lt": 9.75}}`, true},
		{"LteFloatAgainstInt", `{"data.price": {"$lte": 9}}`, false},
		{"GtBigInteger", `{"data.big": {"$gt": 12345678901234567889}}`, true},
		{"LtNegative", `{"data.amount": {"$lt": -1}}`, false},
		{"GtStringLexical", `{"data.currency": {"$gt": "eur"}}`, true},
		{"LtStringLexical", `{"data.currency": {"$lt": "eur"}}`, false},
		{"GtNumberVsString", `{"data.count_str": {"$gt": 5}}`, false},
		{"GtStringVsNumber", `{"data.amount": {"$gt": "1"}}`, false},
		{"GtOnNull", `{"data.nothing": {"$gt": 0}}`, false},
		{"GtOnBool", `{"data.flag": {"$gt": 0}}`, false},
		{"GtMissing", `{"data.absent": {"$gt": 0}}`, false},
		{"GtOnArrayAnyElement", `{"data.items.qty": {"$gt": 4}}`, true},
		{"RangeTwoOperators", `{"data.amount": {"$gte": 100, "$lt": 200}}`, true},
		{"RangeOutside", `{"data.amount": {"$gte": 200, "$lt": 300}}`, false},
		{"TimeAsInstant", `{"time": {"$gte": "2025-01-15T10:00:00Z", "$lt": "2025-01-15T10:00:01Z"}}`, true},
		{"TimeOffsetInstant", `{"time": {"$eq": "2025-01-15T10:00:00Z", "$gt": "2025-01-15T10:59:59+01:00"}}`, true},
		{"PayloadTimeFraction", `{"data.created": {"$gt": "2025-01-15T09:00:00Z"}}`, true},
		{"PayloadTimeBefore", `{"data.created": {"$lt": "2025-01-15T09:00:00Z"}}`, false},

		// $in and $nin.
		{"InArray", `{"data.currency": {"$in": ["eur", "usd"]}}`, true},
		{"InArrayMissing", `{"data.currency": {"$in": ["eur", "gbp"]}}`, false},
		{"InNumbers", `{"data.amount": {"$in": [100, 150.0]}}`, true},
		{"InTypeStrict", `{"data.amount": {"$in": ["150"]}}`, false},
		{"InNullElement", `{"data.nothing": {"$in": [null]}}`, true},
		{"InEmpty", `{"data.currency": {"$in": []}}`, false},
		{"InArrayField", `{"data.customer.tags": {"$in": ["eu", "us"]}}`, true},
		{"InSubstring", `{"data.customer.email": {"$in": "@example."}}`, true},
		{"InSubstringNo", `{"data.customer.email": {"$in": "@other."}}`, false},
		{"InSubstringArrayElement", `{"data.customer.tags": {"$in": "vi"}}`, true},
		{"InSubstringNonString", `{"data.amount": {"$in": "15"}}`, false},
		{"NinArray", `{"data.currency": {"$nin": ["eur", "gbp"]}}`, true},
		{"NinArrayHit", `{"data.currency": {"$nin": ["usd"]}}`, false},
		{"NinMissingMatches", `{"data.absent": {"$nin": ["usd"]}}`, true},
		{"NinArrayFieldAnyHitFails", `{"data.customer.tags": {"$nin": ["eu"]}}`, false},

		// Strings.
		{"StartsWith", `{"data.customer.email": {"$startsWith": "ann@"}}`, true},
		{"StartsWithList", `{"data.customer.email": {"$startsWith": ["bob@", "ann@"]}}`, true},
		{"StartsWithNo", `{"data.customer.email": {"$startsWith": "bob@"}}`, false},
		{"StartsWithOnNumber", `{"data.amount": {"$startsWith": "1"}}`, false},
		{"EndsWith", `{"data.customer.email": {"$endsWith": "@example.com"}}`, true},
		{"EndsWithArrayField", `{"data.customer.tags": {"$endsWith": "u"}}`, true},
		{"Regex", `{"data.customer.email": {"$regex": "^[a-z]+@example\\.com$"}}`, true},
		{"RegexUnanchored", `{"data.status": {"$regex": "ai"}}`, true},
		{"RegexNoMatch", `{"data.status": {"$regex": "^ai"}}`, false},
		{"RegexOnNumber", `{"data.amount": {"$regex": "150"}}`, false},
		{"RegexArrayField", `{"data.items.sku": {"$regex": "^b"}}`, true},

		// $exist.
		{"ExistTrue", `{"data.status": {"$exist": true}}`, true},
		{"ExistTrueOnNull", `{"data.nothing": {"$exist": true}}`, true},
		{"ExistTrueMissing", `{"data.absent": {"$exist": true}}`, false},
		{"ExistFalseMissing", `{"data.absent": {"$exist": false}}`, true},
		{"ExistFalsePresent", `{"data.status": {"$exist": false}}`, false},
		{"ExistTenant", `{"tenant": {"$exist": true}}`, true},
		{"ExistThroughArray", `{"data.items.tags": {"$exist": true}}`, true},

		// Logic.
		{"ImplicitAnd", `{"data.status": "paid", "data.currency": "usd"}`, true},
		{"ImplicitAndOneFails", `{"data.status": "paid", "data.currency": "eur"}`, false},
		{"Or", `{"$or": [{"data.currency": "eur"}, {"data.amount": {"$gt": 100}}]}`, true},
		{"OrNone", `{"$or": [{"data.currency": "eur"}, {"data.amount": {"$gt": 1000}}]}`, false},
		{"OrEmpty", `{"$or": []}`, false},
		{"And", `{"$and": [{"data.currency": "usd"}, {"data.amount": {"$gt": 100}}]}`, true},
		{"AndOneFails", `{"$and": [{"data.currency": "usd"}, {"data.amount": {"$gt": 1000}}]}`, false},
		{"AndEmpty", `{"$and": []}`, true},
		{"NotTop", `{"$not": {"data.currency": "eur"}}`, true},
		{"NotTopFails", `{"$not": {"data.currency": "usd"}}`, false},
		{"NotOnField", `{"data.status": {"$not": {"$in": ["cancelled", "refunded"]}}}`, true},
		{"NotOnFieldHit", `{"data.status": {"$not": {"$in": ["paid"]}}}`, false},
		{"NotMissingMatches", `{"data.absent": {"$not": {"$eq": 1}}}`, true},
		{"OrUnderField", `{"data.customer": {"$or": [{"tier": "silver"}, {"tags": "vip"}]}}`, true},
		{"NotWithSibling", `{"$not": {"data.currency": "eur"}, "data.status": "open"}`, false},
		{"NestedLogic", `{"$or": [{"$and": [{"data.amount": {"$gte": 100}}, {"$not": {"data.flag": false}}]}, {"type": "x"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tt.filter))
			require.NoError(t, err)
			require.Equal(t, tt.want, p.Match(testDocument()))
		})
	}
}

func TestMatchPayloadStates(t *testing.T) {
	t.Parallel()
	t.Run("InvalidPayloadIsMissing", func(t *testing.T) {
		t.Parallel()
		d := testDocument()
		d.Data = []byte(`{"status":`)
		p, err := Compile([]byte(`{"data.status": {"$exist": false}, "type": "invoice.paid"}`))
		require.NoError(t, err)
		require.True(t, p.Match(d))
	})
	t.Run("ScalarPayload", func(t *testing.T) {
		t.Parallel()
		d := testDocument()
		d.Data = []byte(`"hello"`)
		p, err := Compile([]byte(`{"data": {"$startsWith": "he"}}`))
		require.NoError(t, err)
		require.True(t, p.Match(d))
	})
	t.Run("NotParsedWithoutDataCondition", func(t *testing.T) {
		t.Parallel()
		d := testDocument()
		p, err := Compile([]byte(`{"type": "invoice.paid", "attributes.group": "management"}`))
		require.NoError(t, err)
		require.False(t, p.UsesData())
		require.True(t, p.Match(d))
		require.False(t, d.Parsed())
	})
	t.Run("ParsedOnce", func(t *testing.T) {
		t.Parallel()
		d := testDocument()
		p, err := Compile([]byte(`{"data.amount": {"$gt": 1}}`))
		require.NoError(t, err)
		require.True(t, p.UsesData())
		require.True(t, p.Match(d))
		require.True(t, d.Parsed())
		d.Data = []byte(`{"amount": 0}`) // not read again
		require.True(t, p.Match(d))
	})
	t.Run("NoTenantIsMissing", func(t *testing.T) {
		t.Parallel()
		d := testDocument()
		d.Tenant = ""
		p, err := Compile([]byte(`{"tenant": {"$exist": false}}`))
		require.NoError(t, err)
		require.True(t, p.Match(d))
	})
	t.Run("NilProgramMatches", func(t *testing.T) {
		t.Parallel()
		var p *Program
		require.True(t, p.Match(testDocument()))
		require.False(t, p.UsesData())
	})
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	deep := `{"data.a": 1}`
	for range MaxDepth {
		deep = `{"$not": ` + deep + `}`
	}
	many := `{"data.a": {"$in": [`
	for i := range MaxNodes {
		if i > 0 {
			many += ","
		}
		many += "1"
	}
	many += `]}}`
	tests := []struct {
		name, filter, path, reason string
	}{
		{"NotJSON", `{"a":`, `$`, "is not valid JSON"},
		{"NotObject", `[1]`, `$`, "must be a JSON object"},
		{"UnknownOperator", `{"data.a": {"$like": "x"}}`, `$["data.a"].$like`, "unknown operator $like"},
		{"UnknownTopOperator", `{"$xor": []}`, `$.$xor`, "unknown operator $xor"},
		{"OperatorWithoutField", `{"$gt": 1}`, `$.$gt`, "applies to a field"},
		{"OrNotArray", `{"$or": {"a": 1}}`, `$.$or`, "$or wants an array of filters"},
		{"OrElementNotObject", `{"$or": [{"a": 1}, 2]}`, `$.$or[1]`, "$or wants an array of filters"},
		{"AndElementFault", `{"$and": [{"data.a": {"$gt": true}}]}`, `$.$and[0]["data.a"].$gt`, "$gt wants a number or a string"},
		{"NotNotObject", `{"$not": [1]}`, `$.$not`, "$not wants an object"},
		{"GtObject", `{"data.a": {"$gt": {}}}`, `$["data.a"].$gt`, "wants a number or a string"},
		{"InNumber", `{"data.a": {"$in": 5}}`, `$["data.a"].$in`, "$in wants an array or a string"},
		{"NinBool", `{"data.a": {"$nin": true}}`, `$["data.a"].$nin`, "$nin wants an array or a string"},
		{"StartsWithNumber", `{"data.a": {"$startsWith": 1}}`, `$["data.a"].$startsWith`, "wants a string"},
		{"EndsWithEmptyList", `{"data.a": {"$endsWith": []}}`, `$["data.a"].$endsWith`, "non-empty array"},
		{"EndsWithListElement", `{"data.a": {"$endsWith": ["x", 2]}}`, `$["data.a"].$endsWith[1]`, "wants a string"},
		{"RegexNotString", `{"data.a": {"$regex": 1}}`, `$["data.a"].$regex`, "$regex wants a string"},
		{"RegexDoesNotCompile", `{"data.a": {"$regex": "a(b"}}`, `$["data.a"].$regex`, "$regex does not compile"},
		{"RegexLookahead", `{"data.a": {"$regex": "(?=a)"}}`, `$["data.a"].$regex`, "$regex does not compile"},
		{"ExistNotBool", `{"data.a": {"$exist": "yes"}}`, `$["data.a"].$exist`, "$exist wants true or false"},
		{"EmptyStep", `{"data..a": 1}`, `$["data..a"]`, "empty step"},
		{"EmptyKey", `{"": 1}`, `$[""]`, "empty step"},
		{"NestedFault", `{"data": {"customer": {"tier": {"$bad": 1}}}}`, `$.data.customer.tier.$bad`, "unknown operator $bad"},
		{"TooDeep", deep, `$` + strings.Repeat(".$not", MaxDepth) + `["data.a"]`, "nested deeper than 32"},
		{"TooDeepToParse", `{"data.a": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, `$`, "nested at most 32 deep"},
		{"TooManyNodes", many, `$["data.a"].$in[1021]`, "more than 1024 values"},
		{"TooLong", `{"data.a": "` + string(make([]byte, MaxBytes)) + `"}`, `$`, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tt.filter))
			require.Nil(t, p)
			var fe *Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.path, fe.Path)
			require.Contains(t, fe.Error(), tt.reason)
		})
	}
}

func TestCompileErrorCause(t *testing.T) {
	t.Parallel()
	_, err := Compile([]byte(`{"data.a": {"$regex": "a(b"}}`))
	var fe *Error
	require.ErrorAs(t, err, &fe)
	require.Error(t, fe.Unwrap())
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", " ", "null", "{}", " { \n } "} {
		require.True(t, Empty([]byte(s)), "%q", s)
	}
	for _, s := range []string{"{\"a\":1}", "[]", "0", "nul"} {
		require.False(t, Empty([]byte(s)), "%q", s)
	}
}
