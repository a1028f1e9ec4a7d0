// Chain ids name a stack of layers: chainID(L0) = diffID(L0) and
// chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)) (OCI image-spec,
// config.md). A committed layer snapshot is keyed by its chain id, so two
// images sharing the same bottom layers share their snapshots.

import { createHash } from 'node:crypto';
import { BerthError } from '../common/errors.js';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** The chain id of each prefix of `diffIds`: result[i] names layers 0..i. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let prev: string | undefined;
  for (const [i, d] of diffIds.entries()) {
    if (!isDigest(d)) {
      throw new BerthError(
        'snapshot',
        'invalid-argument',
        `diff id ${i} is not a digest: ${JSON.stringify(d).slice(0, 80)}`,
      );
    }
    prev = prev === undefined ? d : 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex');
    out.push(prev);
  }
  return out;
}

/** The chain id of the whole stack. */
export function chainId(diffIds: readonly string[]): string {
  const all = chainIds(diffIds);
  const top = all[all.length - 1];
  if (top === undefined) throw new BerthError('snapshot', 'invalid-argument', 'chain id of no layers');
  return top;
}
