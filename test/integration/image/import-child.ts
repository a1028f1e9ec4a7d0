// A child process for the crash tests: imports a root filesystem tarball as an
// image, printing "start" once the store is open so the parent can time a kill.
// argv: root tarball name
import { openMetadata } from '../../../src/common/metadb.js';
import { LocalContentStore } from '../../../src/image/content/store.js';
import { ImageStore } from '../../../src/image/images.js';
import { LeaseManager } from '../../../src/image/leases.js';
import { importImages } from '../../../src/image/archive/index.js';

const [root, tarball, name] = process.argv.slice(2) as [string, string, string];
const md = openMetadata(root);
const content = new LocalContentStore(root, { metadata: md });
process.stdout.write('start\n');
importImages({ content, images: new ImageStore(md), leases: new LeaseManager(md) }, tarball, {
  rootfs: true,
  name,
}).then(
  () => process.stdout.write('done\n'),
  (e) => {
    process.stderr.write(String(e) + '\n');
    process.exit(1);
  },
);
