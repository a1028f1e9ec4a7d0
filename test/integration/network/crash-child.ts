// Run by restart.test.ts: opens the networks, attaches a namespace with a
// published port, prints the endpoint, and dies by SIGKILL: no clean-up code
// of any kind runs, as after a kill -9 of berthd.
import { Networks, parsePublish } from '../../../src/daemon/network/index.js';

const cfg = JSON.parse(process.argv[2] as string) as {
  dataDir: string;
  chainPrefix: string;
  ifPrefix: string;
  bridge: string;
  subnet: string;
  netns: string;
  port: number;
};
const nets = await Networks.open({
  dataDir: cfg.dataDir,
  chainPrefix: cfg.chainPrefix,
  ifPrefix: cfg.ifPrefix,
  defaultBridge: { name: cfg.bridge, subnet: cfg.subnet },
});
const ep = await nets.attach({
  containerId: 'crash-c1',
  netnsPath: cfg.netns,
  network: 'bridge',
  ports: parsePublish(`127.0.0.1:${cfg.port}:80`),
});
process.stdout.write(JSON.stringify(ep) + '\n', () => process.kill(process.pid, 'SIGKILL'));
