// berth-ctr's own version, printed as ctr prints its client block.

export const VERSION = '0.1.0';

/** The "Client:" block of `berth-ctr version`, in `ctr version`'s layout. */
export function clientVersion(): string {
  return `Client:\n  Version:  ${VERSION}\n  Revision: berth\n  Node.js version: ${process.version}\n`;
}
