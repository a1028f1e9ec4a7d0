// How Go's text/template sees Berth's values. JSON from the Engine API is a
// Go map (a missing key prints "<no value>"); a docker formatter context is
// a Go struct (Struct here: an unknown field is an error naming its type, and
// a function-valued field is a method that may take arguments). Printing
// follows fmt's %v: maps as map[k:v ...] with sorted keys, slices as [a b].

export type Method = (...args: unknown[]) => unknown;

/**
 * Go field names of API objects whose JSON key differs (ID for "Id",
 * APIVersion for "ApiVersion"): docker's typed structs answer to the Go name,
 * its raw-map fallback to the JSON key, so both work on such an object.
 */
export const goAliases = new WeakMap<object, Record<string, string>>();

/** Methods of a Go map type (docker's SubHeaderContext has Label), found before keys. */
export const goMethods = new WeakMap<object, Record<string, Method>>();

export function withMethods<T extends object>(o: T, methods: Record<string, Method>): T {
  goMethods.set(o, methods);
  return o;
}

export function withAliases<T extends object>(o: T, aliases: Record<string, string>): T {
  goAliases.set(o, aliases);
  return o;
}

export class Struct {
  constructor(
    /** The Go type name docker's errors mention, e.g. "*formatter.ContainerContext". */
    readonly typeName: string,
    readonly fields: Record<string, unknown>,
  ) {}
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Struct);
}

/** The Go type name of a value, for error messages. */
export function goType(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Struct) return v.typeName;
  if (typeof v === 'function') return 'func';
  return 'map[string]interface {}';
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Struct) return true;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** strconv.FormatFloat(f, 'g', -1, 64), as %v prints a float64. */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(f) && Math.abs(f) < 1e21) return String(f);
  const exp = f === 0 ? 0 : Math.floor(Math.log10(Math.abs(f)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = f.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(f);
}

/** fmt's %v. */
export function printValue(v: unknown, top = true): string {
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((e) => printValue(e, false)).join(' ')}]`;
  if (v instanceof Struct) {
    return `{${Object.values(v.fields)
      .filter((f) => typeof f !== 'function')
      .map((f) => printValue(f, false))
      .join(' ')}}`;
  }
  if (typeof v === 'function') return '0x0';
  const o = v as Record<string, unknown>;
  return `map[${Object.keys(o)
    .sort()
    .map((k) => `${k}:${printValue(o[k], false)}`)
    .join(' ')}]`;
}

/**
 * The JSON form of a value. A Struct marshals as docker's formatter contexts
 * do: every method without arguments called, keys sorted (a Go map).
 */
export function toJSONValue(v: unknown): unknown {
  if (v instanceof Struct) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v.fields).sort()) {
      const f = v.fields[k];
      if (typeof f === 'function') {
        if (f.length === 0) out[k] = toJSONValue((f as () => unknown)());
      } else out[k] = toJSONValue(f);
    }
    return out;
  }
  if (Array.isArray(v)) return v.map(toJSONValue);
  return v;
}

/** encoding/json with SetEscapeHTML(false), as docker's `json` function. */
export function goJSON(v: unknown): string {
  let s = JSON.stringify(toJSONValue(v) ?? null) ?? 'null';
  // A formatter context marshals itself with json.Marshal, which escapes HTML.
  if (v instanceof Struct) s = s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  return s.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}
