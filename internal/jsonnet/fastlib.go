package jsonnet

import (
	"strconv"
	"strings"

	"github.com/google/go-jsonnet/ast"
)

// This file compiles the uses of the helper library; each does what the
// prelude's library does, read from the event directly.

// libField compiles event.name for the helper library's value fields.
func (fc *fastCompiler) libField(n ast.Node, name string) fastExpr {
	str := func(get func(in *Input) string) fastExpr {
		return func(c *fastCtx, _ *fastFrame) (any, error) { return validString(get(c.in)), nil }
	}
	switch name {
	case "data":
		return func(c *fastCtx, _ *fastFrame) (any, error) { return c.payload() }
	case "id":
		return str(func(in *Input) string { return in.ID })
	case "type":
		return str(func(in *Input) string { return in.Type })
	case "time":
		return str(func(in *Input) string { return in.Time })
	case "tenant":
		return str(func(in *Input) string { return in.Tenant })
	case "attributes":
		return func(c *fastCtx, _ *fastFrame) (any, error) {
			if c.decoded&decodedAttrs == 0 {
				v, err := c.attributes()
				if err != nil {
					return nil, err
				}
				c.attrs, c.decoded = v, c.decoded|decodedAttrs
			}
			return c.attrs, nil
		}
	case "settings":
		fc.readsEndpoint = true
		return func(c *fastCtx, _ *fastFrame) (any, error) {
			if c.decoded&decodedSettings == 0 {
				v, err := c.decodeJSON(c.in.Settings, "{}")
				if err != nil {
					return nil, err
				}
				c.settings, c.decoded = v, c.decoded|decodedSettings
			}
			return c.settings, nil
		}
	case "callback_url":
		return func(c *fastCtx, _ *fastFrame) (any, error) {
			if c.in.CallbackURL == "" {
				return nil, nil
			}
			return validString(c.in.CallbackURL), nil
		}
	case "endpoint":
		fc.readsEndpoint = true
		return func(c *fastCtx, _ *fastFrame) (any, error) {
			return &fastObject{fields: []fastField{
				{name: "id", hide: ast.ObjectFieldInherit, value: validString(c.in.EndpointID)},
				{name: "url", hide: ast.ObjectFieldInherit, value: validString(c.in.EndpointURL)},
			}}, nil
		}
	}
	panic(unsupportedf(n, "helper library field %q used as a value", name))
}

// libCall compiles event.get(...) and event.path(...).
func (fc *fastCompiler) libCall(n *ast.Apply, s *fastScope, name string) fastExpr {
	switch name {
	case "get":
		args := fc.args(n, s, []string{"key", "default"}, 1)
		return func(c *fastCtx, f *fastFrame) (any, error) {
			var a [2]any
			if err := evalArgs(c, f, args, a[:]); err != nil {
				return nil, err
			}
			v, _, err := c.payloadField(a[0])
			if err != nil {
				return nil, err
			}
			if v == nil {
				return a[1], nil
			}
			return v, nil
		}
	case "path":
		args := fc.args(n, s, []string{"p", "default"}, 1)
		return func(c *fastCtx, f *fastFrame) (any, error) {
			var a [2]any
			if err := evalArgs(c, f, args, a[:]); err != nil {
				return nil, err
			}
			return c.path(a[0], a[1])
		}
	}
	if _, ok := n.Target.(*ast.Index); ok {
		panic(unsupportedf(n, "helper library function %q", name))
	}
	panic(unsupportedf(n, "call"))
}

// path is the helper library's path(p, default).
func (c *fastCtx) path(p, def any) (any, error) {
	var keys []any
	switch p := p.(type) {
	case []any:
		keys = p
	case string:
		parts := strings.Split(p, ".")
		keys = make([]any, len(parts))
		for i, s := range parts {
			keys[i] = s
		}
	default:
		return nil, errFallback
	}
	var v any
	if len(keys) > 0 {
		// The first step reads only its field of an object payload.
		first, object, err := c.payloadField(keys[0])
		if err != nil {
			return nil, err
		}
		if object {
			if first == nil {
				return def, nil
			}
			return c.walk(first, keys[1:], def)
		}
	}
	v, err := c.payload()
	if err != nil {
		return nil, err
	}
	return c.walk(v, keys, def)
}

// walk follows keys from v, as the helper library's path does.
func (c *fastCtx) walk(v any, keys []any, def any) (any, error) {
	for _, k := range keys {
		if err := c.spend(1); err != nil {
			return nil, err
		}
		if v == nil {
			return def, nil
		}
		switch t := v.(type) {
		case map[string]any, *fastObject:
			name, ok := k.(string)
			if !ok {
				return nil, errFallback
			}
			v, _ = objectIndex(t, name)
		case []any:
			var n float64
			switch k := k.(type) {
			case float64:
				n = k
			case string:
				if !digits(k) {
					return def, nil
				}
				i, _ := strconv.Atoi(k)
				n = float64(i)
			default:
				return def, nil
			}
			if n >= 0 && n < float64(len(t)) {
				v = t[int(n)]
			} else {
				v = nil
			}
		default:
			return def, nil
		}
	}
	if v == nil {
		return def, nil
	}
	return v, nil
}

// digits is the helper library's test for an array index in a path.
func digits(s string) bool {
	if len(s) == 0 || len(s) >= 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
