// Applying one layer tar to an active snapshot: the driver. It decompresses
// the blob (./decompress.ts), counts and hashes the uncompressed bytes for
// the diff id, feeds the tar to tar-stream's extractor and hands each entry
// to ./writers.ts, then finishes the layer (./finish.ts) and maps failures
// to BerthErrors. The rules themselves are in ../README.md; in short:
//  - names are checked in ./paths.ts, parents resolved with lstat in this
//    layer and the lower ones by ./resolve.ts: nothing is ever written
//    through a symlink;
//  - ./writers.ts writes one entry of each type, ./whiteouts.ts handles
//    whiteouts and opaque directories, ./header.ts reads owner, mode, times
//    and xattrs from the tar header, ./state.ts holds what they share;
//  - directory modes and times and all xattrs are set at the end
//    (./finish.ts, ./xattrs.ts).
// Metadata calls are synchronous on purpose: each is microseconds, and the
// thread-pool round trip of fs/promises would dominate a layer of small
// files. File contents stream.

import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/log.js';
import type { ExtractionTarget } from '../types.js';
import {
  checkLayerMediaType,
  decompressor,
  DiffIdCounter,
  peek,
  wholeFileOf,
  zstdFileStream,
  zstdTool,
} from './decompress.js';
import { compressionOf, type Compression } from '../../common/compression.js';
import { finishLayer } from './finish.js';
import type { Entry } from './header.js';
import { DEFAULT_LIMITS, LayerState, type UnpackLimits } from './state.js';
import { dropWhiteoutTemplate } from './whiteouts.js';
import { applyEntry } from './writers.js';
import { keepBinaryPax } from './xattrs.js';

export { DEFAULT_LIMITS, type UnpackLimits } from './state.js';

export interface ApplyOptions {
  target: ExtractionTarget;
  /** The layer blob: gzip, zstd or plain tar (told apart by magic bytes). */
  stream: Readable;
  mediaType?: string;
  /** When given, a different sha256 of the uncompressed tar is 'digest-mismatch'. */
  expectedDiffId?: string;
  limits?: Partial<UnpackLimits>;
  logger?: Logger;
}

export interface ApplyResult {
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
  entries: number;
  compression: Compression;
}

/**
 * Apply one layer to the active snapshot described by `target`. On error the
 * snapshot is left as it is (half-written): the caller removes it
 * (`unpackLayer` does).
 */
export async function applyLayer(opts: ApplyOptions): Promise<ApplyResult> {
  checkLayerMediaType(opts.mediaType);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const layer = new LayerState(opts.target, limits, opts.logger ?? nullLogger);
  const { head, stream } = await peek(opts.stream, 4);
  const compression = compressionOf(head);
  // A zstd layer in a file: zstd(1) reads the file itself.
  const tool = compression === 'zstd' ? zstdTool() : undefined;
  const file = tool ? wholeFileOf(opts.stream) : undefined;
  let source: Readable = stream;
  if (tool && file) {
    stream.destroy();
    source = zstdFileStream(tool, file);
  }
  const dec = tool && file ? undefined : decompressor(compression);
  const counter = new DiffIdCounter(limits.maxBytes);
  const extract = tar.extract();
  keepBinaryPax(extract);
  // tar-stream's extractor is a streamx stream: fed by hand from the end of
  // a Node pipeline, and destroyed with the pipeline's error if it fails.
  const feed = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      if (extract.destroyed) throw new Error('extraction stopped');
      if (!extract.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            extract.off('drain', done);
            extract.off('close', done);
            resolve();
          };
          extract.on('drain', done);
          extract.on('close', done);
        });
      }
    }
    (extract as unknown as { end(): void }).end();
  };
  const piping = (dec ? pipeline(stream, dec, counter, feed) : pipeline(source, counter, feed)).catch((e: unknown) => {
    extract.destroy(e instanceof Error ? e : new Error(String(e)));
    throw e;
  });
  let failure: unknown;
  let current = '';
  try {
    for await (const entry of extract as unknown as AsyncIterable<Entry>) {
      current = entry.header.name;
      await applyEntry(layer, entry);
    }
  } catch (e) {
    failure = e;
  }
  try {
    await piping;
  } catch (e) {
    // The loop's own error comes first; the pipeline then only reports that
    // it was cut short.
    failure ??= e;
  }
  try {
    if (failure === undefined) await finishLayer(layer);
  } catch (e) {
    failure = e;
  } finally {
    dropWhiteoutTemplate(layer);
  }
  if (failure !== undefined) {
    if (isBerthError(failure)) throw failure;
    const where = current ? `layer entry ${JSON.stringify(current).slice(0, 300)}: ` : '';
    const msg = messageOf(failure);
    const corrupt =
      /unexpected end|invalid tar|header|incorrect header|unexpected eof|invalid (block|distance|stored)/i.test(msg);
    throw new BerthError(
      'snapshot',
      corrupt ? 'invalid-argument' : 'internal',
      `${where}${corrupt ? 'corrupt or truncated layer: ' : ''}${msg}`,
      { cause: failure },
    );
  }
  const diffId = counter.digest();
  if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
    throw new BerthError(
      'snapshot',
      'digest-mismatch',
      `layer diff id is ${diffId}, the image config says ${opts.expectedDiffId}`,
    );
  }
  return { diffId, size: counter.bytes, entries: layer.entries, compression };
}
