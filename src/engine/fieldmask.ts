// google.protobuf.FieldMask as containerd's services read it for labels:
// no paths replaces every label with the request's; "labels" does the same;
// "labels.<key>" sets that one key (or removes it when the request has no
// value for it). Other paths are the caller's to handle or refuse.

import { invalidArgument } from './validate.js';

export interface LabelUpdate {
  /** Replace the whole label set with `labels`. */
  replace: boolean;
  /** Keys to set; '' means remove (when not replacing). */
  labels: Record<string, string>;
}

/**
 * The label part of an update. `other` lists the non-label paths the caller
 * accepts (returned in `rest`); any other path is InvalidArgument naming it.
 */
export function labelUpdates(
  paths: readonly string[],
  requested: Record<string, string>,
  what: string,
  other: readonly string[] = [],
): LabelUpdate & { rest: string[] } {
  const rest: string[] = [];
  if (paths.length === 0) return { replace: true, labels: { ...requested }, rest };
  const out: LabelUpdate = { replace: false, labels: {} };
  for (const p of paths) {
    if (p === 'labels') {
      out.replace = true;
      out.labels = { ...requested };
    } else if (p.startsWith('labels.')) {
      const key = p.slice('labels.'.length);
      if (key === '') throw invalidArgument(`cannot update "${p}" field on ${what}: empty label key`, 'update_mask');
      if (!out.replace) out.labels[key] = requested[key] ?? '';
    } else if (other.includes(p)) {
      rest.push(p);
    } else {
      throw invalidArgument(`cannot update ${JSON.stringify(p)} field on ${what}`, 'update_mask');
    }
  }
  return { ...out, rest };
}

/** Applies an update to the current labels. */
export function applyLabels(current: Record<string, string>, u: LabelUpdate): Record<string, string> {
  const next = u.replace ? {} : { ...current };
  for (const [k, v] of Object.entries(u.labels)) {
    if (v === '' && !u.replace) delete next[k];
    else next[k] = v;
  }
  return next;
}
