// Layer and archive compression, told by the stream's first bytes (gzip
// 1f 8b, zstd 28 b5 2f fd, else none), never by a name or media type that
// may lie. The image layer (import, export) and the snapshot layer (unpack)
// both read it.

export type Compression = 'none' | 'gzip' | 'zstd';

export function compressionOf(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}
