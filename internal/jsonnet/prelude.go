package jsonnet

import (
	"fmt"
	"strconv"
)

// Names of the top-level arguments through which a render hands the event
// and the endpoint to the compiled program. They start with the reserved
// prefix, so a template can neither read nor shadow them.
const (
	reservedPrefix  = "__hooklet"
	tlaID           = "__hooklet_id"
	tlaType         = "__hooklet_type"
	tlaTime         = "__hooklet_time"
	tlaTenant       = "__hooklet_tenant"
	tlaAttributes   = "__hooklet_attributes"
	tlaPayload      = "__hooklet_payload"
	tlaSettings     = "__hooklet_settings"
	tlaEndpointID   = "__hooklet_endpoint_id"
	tlaEndpointURL  = "__hooklet_endpoint_url"
	tlaCallbackURL  = "__hooklet_callback_url"
	nativeTick      = "hooklet_tick"
	nativeFormatMax = "hooklet_format_width"

	// Variables the prelude binds and the instrumented template refers to.
	varTick = "__hooklet_tick"
	varFit  = "__hooklet_fit"
	varStd  = "__hooklet_std"
	varLib  = "__hooklet_lib"
	varBody = "__hooklet_out"

	// preludeFile names the prelude in stack traces; template errors are
	// reported at the first frame in templateFile.
	preludeFile  = "<hooklet>"
	templateFile = "template"
)

// Helper library names a template may import.
const (
	libHooklet = "hooklet.libsonnet"
	libLytics  = "lytemplates.libsonnet"
)

// preludeSource returns the program every template runs inside. The
// template's AST replaces the null bound to __hooklet_out. limit caps the
// length of any string or array a guarded operation creates.
//
// The prelude:
//   - shadows std (and the desugarer's $std) with std plus guarded versions
//     of the functions that can build a huge value in one step. Because std
//     refers to itself late-bound, std's own functions (std.repeat calling
//     std.makeArray, the % operator calling std.format) go through the
//     guards too;
//   - defines __hooklet_fit, which checks the result of every + of the
//     template (a + b is rewritten to __hooklet_fit(a + b) tailstrict): it
//     refuses a string or array longer than limit;
//   - answers std.thisFile with "template", the name the template's error
//     positions use;
//   - binds the helper library the template's import resolves to;
//   - evaluates to the template's value, which the VM manifests as JSON.
func preludeSource(limit int) string {
	L := strconv.Itoa(limit)
	tooBig := func(what string) string {
		return fmt.Sprintf("error %q", what+" exceeds the limit of "+L+" elements")
	}
	return `
local ` + varTick + ` = std.native("` + nativeTick + `"),
  ` + varStd + ` = std + {
  // Object locals: bound only when a guarded function runs.
  local __hooklet_fmtw = std.native("` + nativeFormatMax + `"),
  local __hooklet_len(v) = if std.isString(v) || std.isArray(v) then std.length(v) else 0,
  range(from, to)::
    if to - from + 1 > ` + L + ` then ` + tooBig("std.range") + ` else super.range(from, to),
  makeArray(sz, func)::
    if sz > ` + L + ` then ` + tooBig("std.makeArray") + ` else super.makeArray(sz, func),
  repeat(what, count)::
    if __hooklet_len(what) * count > ` + L + ` then ` + tooBig("std.repeat") + ` else super.repeat(what, count),
  format(str, vals)::
    local w = __hooklet_fmtw(str);
    local vs = if std.isArray(vals) then vals else [vals];
    if w > ` + L + ` || (w < 0 && std.length([v for v in vs if std.isNumber(v) && std.abs(v) > ` + L + `]) > 0)
    then error "std.format: a field width or precision exceeds the limit of ` + L + `"
    else super.format(str, vals),
  join(sep, arr)::
    // A few parts are joined, then measured: at most 16 parts of the
    // limit each are built. More parts are measured first.
    if std.length(arr) <= 16 then
      // Joined as the argument of the check, so that a recursion
      // through the parts nests one frame more than std.join's own.
      local cap(r) = if std.length(r) > ` + L + ` then ` + tooBig("std.join") + ` else r;
      cap(super.join(sep, arr)) tailstrict
    else
      local n = std.foldl(function(acc, s) acc + __hooklet_len(s), arr, 0) + __hooklet_len(sep) * std.length(arr);
      if n > ` + L + ` then ` + tooBig("std.join") + ` else super.join(sep, arr),
  flattenArrays(arrs)::
    if std.foldl(function(acc, a) acc + __hooklet_len(a), arrs, 0) > ` + L + ` then ` + tooBig("std.flattenArrays") + ` else super.flattenArrays(arrs),
  strReplace(str, from, to)::
    if std.length(to) > std.length(from) && std.length(str) * std.length(to) > ` + L + ` * std.max(1, std.length(from))
    then ` + tooBig("std.strReplace") + ` else super.strReplace(str, from, to),
  // The template's name, as its error positions give it; not the
  // prelude's.
  thisFile:: "` + templateFile + `",
  native(name)::
    error "std.native is not available to templates",
  extVar(name)::
    error "std.extVar is not available to templates",
  },
  ` + varFit + `(r) =
  local t = std.type(r);
  if (t == "string" || t == "array") && std.length(r) > ` + L + `
  then error "+: a " + t + " of " + std.length(r) + " elements exceeds the limit of ` + L + `"
  else r;
function(` + tlaID + `, ` + tlaType + `, ` + tlaTime + `, ` + tlaTenant + `, ` + tlaAttributes + `, ` +
		tlaPayload + `, ` + tlaSettings + `, ` + tlaEndpointID + `, ` + tlaEndpointURL + `, ` + tlaCallbackURL + `)
  local std = ` + varStd + `,
    __hooklet_data = std.parseJson(` + tlaPayload + `),
    __hooklet_isobj = std.type(__hooklet_data) == "object",
    ` + varLib + ` = {
    data: __hooklet_data,
    id: ` + tlaID + `,
    type: ` + tlaType + `,
    time: ` + tlaTime + `,
    tenant: ` + tlaTenant + `,
    attributes: std.parseJson(` + tlaAttributes + `),
    settings: std.parseJson(` + tlaSettings + `),
    endpoint: { id: ` + tlaEndpointID + `, url: ` + tlaEndpointURL + ` },
    callback_url: if ` + tlaCallbackURL + ` == "" then null else ` + tlaCallbackURL + `,
    get(key, default=null)::
      local v = if __hooklet_isobj then std.get(__hooklet_data, key, null) else null;
      if v == null then default else v,
    path(p, default=null)::
      local keys = if std.isArray(p) then p else std.split(p, "."),
        digits(s) = std.isString(s) && std.length(s) > 0 && std.length(s) < 10 &&
          std.all([c >= "0" && c <= "9" for c in std.stringChars(s)]);
      local walk(v, i) =
        if v == null then default
        else if i == std.length(keys) then v
        else local k = keys[i];
          if std.isObject(v) then walk(std.get(v, k, null), i + 1)
          else if std.isArray(v) && (std.isNumber(k) || digits(k)) then
            local n = if std.isNumber(k) then k else std.parseInt(k);
            walk(if n >= 0 && n < std.length(v) then v[n] else null, i + 1)
          else default;
      walk(__hooklet_data, 0),
    },
    ` + varBody + ` = null;
  ` + varBody + `
`
}
