// Image reference checks done by the docker CLI before any request
// (distribution/reference's grammar): lower-case path components joined by
// separators, an optional registry host, tag and digest. The messages are
// docker's ("invalid reference format: repository name (library/Busybox)
// must be lowercase").

import { CliError } from './errors.js';

const component = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const domain =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?';
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const full = new RegExp(`^(?:(${domain})/)?(${component}(?:/${component})*)(?::(${tag}))?(?:@(${digest}))?$`);
const anyCase = new RegExp(`^(?:(${domain})/)?([a-zA-Z0-9._/-]+?)(?::(${tag}))?(?:@(${digest}))?$`);

/** The error docker gives for `ref`, or undefined when it is well formed. */
export function referenceError(ref: string): string | undefined {
  if (full.test(ref)) {
    const name = ref.split('@')[0]!.replace(/:[\w][\w.-]*$/, '');
    if (name.length > 255) return 'invalid reference format: repository name must not be more than 255 characters';
    return undefined;
  }
  const m = anyCase.exec(ref);
  if (m && m[2] && /[A-Z]/.test(ref.split('@')[0]!)) {
    // The registry host is the first component only when it looks like one.
    let name = ref.split('@')[0]!;
    const slash = name.lastIndexOf('/');
    const colon = name.lastIndexOf(':');
    if (colon > slash) name = name.slice(0, colon);
    const first = name.split('/')[0]!;
    const hasDomain = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
    const path = hasDomain ? name.slice(first.length + 1) : name;
    if (!full.test(ref.replace(path, path.toLowerCase()))) return 'invalid reference format';
    // docker names the path only (with library/ for an official image), not the registry.
    const familiar = hasDomain || path.includes('/') ? path : `library/${path}`;
    return `invalid reference format: repository name (${familiar}) must be lowercase`;
  }
  return 'invalid reference format';
}

export function checkReference(ref: string, status = 1): void {
  const e = referenceError(ref);
  if (e) throw new CliError(e, status);
}
