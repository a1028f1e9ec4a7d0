// The engine's API: one EngineService per containerd service, each in its
// own folder. To add a service: write services/<name>/index.ts exporting an
// EngineService and list it here.

import type { EngineService } from '../server.js';
import { versionService } from './version/index.js';
import { introspectionService } from './introspection/index.js';
import { namespacesService } from './namespaces/index.js';
import { eventsService } from './events/index.js';
import { contentService } from './content/index.js';
import { imagesService } from './images/index.js';
import { leasesService } from './leases/index.js';
import { snapshotsService } from './snapshots/index.js';
import { diffService } from './diff/index.js';
import { containersService } from './containers/index.js';
import { tasksService } from './tasks/index.js';

export const services: EngineService[] = [
  versionService,
  introspectionService,
  namespacesService,
  eventsService,
  contentService,
  imagesService,
  leasesService,
  snapshotsService,
  diffService,
  containersService,
  tasksService,
];
