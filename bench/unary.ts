// Benchmark: one unary call of containerd's API (Images.Get of an absent
// name, answered NotFound, and Version), through src/client's own HTTP/2
// path (src/client/unary.ts) and through grpc-js, interleaved, against a
// berth-engine started here on a temp root. Wall time and this process's
// CPU per call. Only ratios of one run mean anything.
//
//   sudo node --import tsx bench/unary.ts [--calls 300] [--json]

import { loadavg } from 'node:os';
import { ContainerdClient } from '../src/client/index.js';
import { startEngine } from '../test/integration/engine/helpers.js';

const calls = Number(process.argv[process.argv.indexOf('--calls') + 1] || 300) || 300;
const asJson = process.argv.includes('--json');

const engine = await startEngine('bench-unary-');
try {
  const own = new ContainerdClient(engine.sock, { namespace: 'bench-unary' });
  const grpcJs = new ContainerdClient(engine.sock, { namespace: 'bench-unary' });
  // the same Connection with its own path switched off: every unary call through grpc-js
  (grpcJs.conn as unknown as { lean?: unknown }).lean = undefined;
  const one = async (c: ContainerdClient) => {
    await c.version.version();
    await c.images.get('bench/absent:latest').catch(() => undefined);
  };
  const rounds = 4;
  const per: Record<string, { ms: number[]; cpu: number[] }> = {
    own: { ms: [], cpu: [] },
    grpcJs: { ms: [], cpu: [] },
  };
  for (const c of [own, grpcJs]) for (let i = 0; i < 20; i++) await one(c); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of r % 2
      ? ([
          ['grpcJs', grpcJs],
          ['own', own],
        ] as const)
      : ([
          ['own', own],
          ['grpcJs', grpcJs],
        ] as const)) {
      const t = performance.now();
      const u = process.cpuUsage();
      for (let i = 0; i < calls; i++) await one(c);
      const cpu = process.cpuUsage(u);
      per[name]!.ms.push((performance.now() - t) / (2 * calls));
      per[name]!.cpu.push((cpu.user + cpu.system) / 1000 / (2 * calls));
    }
  }
  own.close();
  grpcJs.close();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const result = {
    calls: 2 * calls * rounds,
    own: { msPerCall: med(per.own!.ms), cpuMsPerCall: med(per.own!.cpu) },
    grpcJs: { msPerCall: med(per.grpcJs!.ms), cpuMsPerCall: med(per.grpcJs!.cpu) },
    loadavg: loadavg(),
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    const f = (x: number) => x.toFixed(3);
    console.log(`unary call, src/client's own: ${f(result.own.msPerCall)} ms, ${f(result.own.cpuMsPerCall)} ms CPU`);
    console.log(
      `unary call, grpc-js:          ${f(result.grpcJs.msPerCall)} ms, ${f(result.grpcJs.cpuMsPerCall)} ms CPU`,
    );
    console.log(
      `ratios: time ${f(result.own.msPerCall / result.grpcJs.msPerCall)}, CPU ${f(result.own.cpuMsPerCall / result.grpcJs.cpuMsPerCall)}`,
    );
    console.log(`load average ${result.loadavg.map((x) => x.toFixed(1)).join(' ')}`);
  }
} finally {
  await engine.stop();
}
