// How errors name a place in config.json: the path a user would write to
// reach the field, "linux.namespaces[2].type", "linux.sysctl[\"net.ipv4.ip_forward\"]".

/** Throws the error for one field (a BerthError, in validate.ts). */
export type Fail = (field: string, message: string) => never;

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** ["linux", "namespaces", 2, "type"] -> "linux.namespaces[2].type". */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && IDENT.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out;
}

/** A map entry under `base`: "linux.timeOffsets.monotonic", "linux.sysctl[\"kernel.sem\"]". */
export function fieldKey(base: string, key: string): string {
  return IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}
