// What the transport needs to know about manifest media types: the Accept
// list and the types refused on sight. The table itself is ../media.ts;
// parsing and validation of the documents is ../manifest.ts.

import { MANIFEST_ACCEPT, isSchema1Type } from '../media.js';

export const MANIFEST_MEDIA_TYPES: readonly string[] = MANIFEST_ACCEPT;
export const isSchema1 = isSchema1Type;

export const SCHEMA1_MESSAGE =
  'schema 1 image manifests are not supported (Docker deprecated them in 2017 and removed them in 2023); ' +
  'push the image again with a current Docker or skopeo to convert it to schema 2 / OCI';

/** The media type without parameters ("; charset=utf-8"), lower case. */
export function bareMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}
