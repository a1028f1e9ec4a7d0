// The berth CLI compared with the docker CLI on a real dockerd (compat-suite.ts).
import { compatSuite } from './compat-suite.js';

compatSuite('dockerd');
