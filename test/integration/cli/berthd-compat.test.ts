// The berth CLI compared with the docker CLI on berthd running on
// berth-engine (compat-suite.ts): both CLIs talk to the same berthd, so what
// differs is berth's fault; where berthd itself cannot do a step yet, the
// step is in PENDING below with the reason, and must still fail there.
import { compatSuite } from './compat-suite.js';
import type { Pending } from './compare.js';

const PENDING: Pending = {
  'run --add-host': 'branch net: /etc/hosts with HostConfig.ExtraHosts is written by the network wiring',
  'container diff': 'branch health: GET /containers/{id}/changes answers 501',
  update: "branch health: POST /containers/{id}/update answers 501 (update of a container's resources)",
  'image save and load': 'branch images: GET /images/get and POST /images/load answer 501',
  'image import': 'branch images: POST /images/create?fromSrc answers 501 (docker import)',
};

compatSuite('berthd', PENDING);
