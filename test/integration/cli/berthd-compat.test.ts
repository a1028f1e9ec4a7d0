// The berth CLI compared with the docker CLI on berthd running on
// berth-engine (compat-suite.ts): both CLIs talk to the same berthd, so what
// differs is berth's fault; where berthd itself cannot do a step yet, the
// step is in PENDING below with the reason, and must still fail there.
import { compatSuite } from './compat-suite.js';
import type { Pending } from './compare.js';

const PENDING: Pending = {};

compatSuite('berthd', PENDING);
