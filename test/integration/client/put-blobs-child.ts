// Run by content-write-bun.test.ts under Bun: writes COUNT random blobs of
// SIZE bytes at once into the containerd at SOCK, in namespace NS, through
// src/client's RemoteContentStore, under a lease that is kept (the test reads
// the blobs back with ctr); prints {"lease", "blobs": [{digest, size}]}.
import { createHash, randomBytes } from 'node:crypto';
import { ContainerdClient } from '../../../src/client/client.js';
import { RemoteContentStore } from '../../../src/client/content-store.js';

const [sock, ns, size, count] = process.argv.slice(2);
const client = new ContainerdClient(sock!, { namespace: ns! });
const lease = await client.leases.create(`put-blobs-${process.pid}`);
const store = new RemoteContentStore(client.conn, client.content, lease);
const blobs = await Promise.all(
  Array.from({ length: Number(count) }, async () => {
    const data = randomBytes(Number(size));
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const info = await store.put(data, { digest });
    return { digest: info.digest, size: info.size };
  }),
);
process.stdout.write(JSON.stringify({ lease, blobs }) + '\n');
client.close();
