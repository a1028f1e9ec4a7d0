// The network library's orders (src/daemon/network/serial.ts): the firewall
// loads coalesce (a change made before sync() is in the load it waits for,
// several changes made while one load runs cost one more load), a release's
// load is skipped when the rules did not change, a failed load makes the next
// one load; one queue per container, in order, others not waiting. And the
// /proc read that replaced `ip link show` (links.ts).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chainNames, type RuleSet } from '../../../src/daemon/network/firewall.js';
import { KeyedQueue, RuleLoads, StateWrites } from '../../../src/daemon/network/serial.js';
import { linkExists, nextIfname } from '../../../src/daemon/network/links.js';
import { endpointRecord, networkRecord } from '../../helpers/network-records.js';
import type { EndpointRecord } from '../../../src/daemon/network/state.js';

const bridge = networkRecord({ name: 'bridge', bridge: 'bthtest0', subnet: '10.9.0.0/24', predefined: true });

function endpoint(n: number, ports = false) {
  return endpointRecord({
    id: `e${n}`,
    containerId: `c${n}`,
    hostVeth: `bthv${n}`,
    ip: `10.9.0.${n + 1}`,
    mac: '02:42:0a:09:00:02',
    ports: ports ? [{ proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 + n, containerPort: 80 }] : [],
  });
}

/** A RuleLoads over a state of its own, recording every load and able to hold one open or fail it. */
function fixture() {
  const endpoints: EndpointRecord[] = [];
  const loads: RuleSet[] = [];
  let gate: Promise<void> = Promise.resolve();
  let failNext = false;
  const rules = new RuleLoads(
    { chains: chainNames('TEST'), bridges: () => [bridge], endpoints: () => [...endpoints] },
    true,
    async (_c, r) => {
      await gate;
      if (failNext) {
        failNext = false;
        throw new Error('iptables-restore failed');
      }
      loads.push(r);
    },
  );
  return {
    rules,
    endpoints,
    loads,
    hold(): () => void {
      let open!: () => void;
      gate = new Promise((res) => (open = res));
      return () => {
        gate = Promise.resolve();
        open();
      };
    },
    failNextLoad: () => (failNext = true),
  };
}

describe('RuleLoads', () => {
  it('changes made while a load runs are loaded together, each in the load its sync() waits for', async () => {
    const f = fixture();
    const release = f.hold();
    const first = f.rules.sync(); // starts at once, renders no endpoint
    await new Promise((r) => setImmediate(r));
    const waits: Promise<void>[] = [];
    for (let i = 1; i <= 5; i++) {
      f.endpoints.push(endpoint(i, true));
      waits.push(f.rules.sync());
    }
    release();
    await Promise.all([first, ...waits]);
    assert.equal(f.loads.length, 2, 'one load for the five changes made meanwhile');
    for (let i = 1; i <= 5; i++) assert.match(f.loads[1]!.nat, new RegExp(`--dport ${8000 + i} `));
    assert.doesNotMatch(f.loads[0]!.nat, /DNAT/);
  });

  it('a release loads nothing when the rules are unchanged; a change, an attach or a failed load loads', async () => {
    const f = fixture();
    f.endpoints.push(endpoint(1));
    await f.rules.sync();
    assert.equal(f.loads.length, 1);
    f.endpoints.pop(); // an endpoint without ports: no rule of its own
    await f.rules.sync({ ifChanged: true });
    assert.equal(f.loads.length, 1, 'release without a rule change: no load');
    await f.rules.sync();
    assert.equal(f.loads.length, 2, 'an attach loads whole, changed or not (it repairs)');
    f.endpoints.push(endpoint(2, true));
    f.failNextLoad();
    await assert.rejects(f.rules.sync(), /iptables-restore failed/);
    f.endpoints.pop();
    await f.rules.sync({ ifChanged: true });
    assert.equal(f.loads.length, 3, 'after a failed load the rules are unknown: the release loads');
    await f.rules.sync({ ifChanged: true });
    assert.equal(f.loads.length, 3);
  });
});

describe('StateWrites', () => {
  it('writes the document as it is when the write starts; changes made meanwhile go in one durable-if-asked write', async () => {
    const doc = { n: 0 };
    const written: { n: number; durable: boolean }[] = [];
    let open!: () => void;
    let gate: Promise<void> = new Promise((res) => (open = res));
    const w = new StateWrites(async (durable) => {
      const snapshot = { n: doc.n, durable };
      await gate;
      written.push(snapshot);
    });
    doc.n = 1;
    const first = w.write(false);
    await new Promise((r) => setImmediate(r));
    const later: Promise<void>[] = [];
    for (let i = 2; i <= 6; i++) {
      doc.n = i;
      later.push(w.write(i === 4));
    }
    gate = Promise.resolve();
    open();
    await Promise.all([first, ...later]);
    assert.deepEqual(written, [
      { n: 1, durable: false },
      { n: 6, durable: true },
    ]);
  });
});

describe('KeyedQueue', () => {
  it("runs one key's functions in order, another key's beside them", async () => {
    const q = new KeyedQueue();
    const seen: string[] = [];
    let openA!: () => void;
    const a1 = q.run('a', () => new Promise<void>((res) => (openA = res)).then(() => void seen.push('a1')));
    const a2 = q.run('a', async () => void seen.push('a2'));
    const b1 = q.run('b', async () => void seen.push('b1'));
    await b1;
    assert.deepEqual(seen, ['b1'], "b does not wait for a's first");
    openA();
    await Promise.all([a1, a2]);
    assert.deepEqual(seen, ['b1', 'a1', 'a2']);
    await assert.rejects(
      q.run('a', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await q.run('a', async () => 'next'), 'next', 'a failure does not stop the queue');
  });
});

describe('links from /proc', () => {
  it("reads this namespace's interfaces and a process's namespace without an ip process", async () => {
    const names = readFileSync('/proc/self/net/dev', 'utf8');
    assert.match(names, /\blo:/);
    assert.equal(await linkExists('lo'), true);
    assert.equal(await linkExists('bthnosuch0'), false);
    assert.equal(await linkExists('lo', `/proc/${process.pid}/ns/net`), true);
    const free = (taken: string[]) => {
      for (let i = 0; ; i++) if (!names.includes(`eth${i}:`) && !taken.includes(`eth${i}`)) return `eth${i}`;
    };
    assert.equal(await nextIfname(`/proc/${process.pid}/ns/net`, []), free([]));
    assert.equal(await nextIfname(`/proc/${process.pid}/ns/net`, ['eth0', 'eth1']), free(['eth0', 'eth1']));
  });
});
