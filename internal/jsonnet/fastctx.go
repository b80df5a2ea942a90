package jsonnet

import (
	"unicode/utf8"
)

// This file holds the run-time state of one fast evaluation and its access
// to the event's JSON.

// fastStepBudget bounds the work of one fast evaluation; beyond it the
// sandbox, with its timeout, takes over.
const fastStepBudget = 1 << 20

// fastCtx is the state of one fast evaluation.
type fastCtx struct {
	in            *Input
	limit         int // Options.MaxOutputBytes
	budget        int
	calls         int
	maxCalls      int
	manifestDepth int

	decoded  uint8 // bits: which of data, attributes, settings are decoded
	data     any
	attrs    any
	settings any
	lazy     lazyPayload
}

const (
	decodedData = 1 << iota
	decodedAttrs
	decodedSettings
)

// spend counts n steps against the budget.
func (c *fastCtx) spend(n int) error {
	c.budget -= n
	if c.budget < 0 {
		return errFallback
	}
	return nil
}

// decodeJSON parses JSON text as std.parseJson does.
func (c *fastCtx) decodeJSON(text, empty string) (any, error) {
	if text == "" {
		text = empty
	}
	if err := c.spend(1 + len(text)/64); err != nil {
		return nil, err
	}
	return decodeJSONText(text)
}

// attributes returns the event's attributes as std.parseJson gives them
// from their JSON.
func (c *fastCtx) attributes() (any, error) {
	in := c.in
	if in.Attributes != "" || len(in.AttrMap) == 0 {
		return c.decodeJSON(in.Attributes, "{}")
	}
	if err := c.spend(1 + len(in.AttrMap)); err != nil {
		return nil, err
	}
	m := make(map[string]any, len(in.AttrMap))
	for k, v := range in.AttrMap {
		if !utf8.ValidString(k) {
			// Keys that differ only in invalid bytes would become one.
			return c.decodeJSON(in.attributesJSON(), "{}")
		}
		m[k] = validString(v)
	}
	return m, nil
}

// payload returns the whole payload, decoded.
func (c *fastCtx) payload() (any, error) {
	if c.decoded&decodedData == 0 {
		v, err := c.decodeJSON(c.in.Payload, "null")
		if err != nil {
			return nil, err
		}
		c.data, c.decoded = v, c.decoded|decodedData
	}
	return c.data, nil
}

// payloadText is the payload's JSON text.
func (c *fastCtx) payloadText() string {
	if c.in.Payload == "" {
		return "null"
	}
	return c.in.Payload
}

// payloadField returns the top-level field key of the payload, decoding
// only that field when the whole payload is not decoded yet. object is
// false when the payload is not an object.
func (c *fastCtx) payloadField(key any) (v any, object bool, err error) {
	if c.decoded&decodedData != 0 {
		if !isObject(c.data) {
			return nil, false, nil
		}
		name, ok := key.(string)
		if !ok {
			return nil, true, errFallback
		}
		v, _ = objectIndex(c.data, name)
		return v, true, nil
	}
	text := c.payloadText()
	if !c.lazy.checked {
		if err := c.spend(1 + len(text)/64); err != nil {
			return nil, false, err
		}
		if err := c.lazy.check(text); err != nil {
			return nil, false, err
		}
	}
	if !c.lazy.object {
		return nil, false, nil
	}
	name, ok := key.(string)
	if !ok {
		return nil, true, errFallback
	}
	v, _, err = c.lazy.field(text, name)
	return v, true, err
}
