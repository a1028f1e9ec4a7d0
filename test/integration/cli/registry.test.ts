// berth against a local registry (htpasswd auth, 127.0.0.1 only), compared
// with the docker 28 CLI on the same daemon, dockerd and then berthd on
// berth-engine: login, push, pull (plain lines and per-layer progress on a
// terminal), run of a missing image, logout. The steps berthd cannot do yet
// are in PENDING (compare.ts `step`: they must still fail there).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { registryMissing, startRegistry, type RegistryInstance } from '../../helpers/registry.js';
import { driveTty } from '../../helpers/pty.js';
import {
  BERTH,
  IMAGE,
  SUFFIX,
  berth,
  docker,
  normalise,
  ok,
  same,
  setTarget,
  skip,
  skipBerthd,
  startDaemon,
  stepAsync,
  unvisitedPending,
  type Pending,
} from './compare.js';
import type { Dockerd } from '../../helpers/daemons.js';

const PENDING: Pending = {};

for (const target of ['dockerd', 'berthd'] as const)
  describe(
    `berth and a registry, compared with the docker CLI on ${target}`,
    { skip: (target === 'berthd' ? skipBerthd : skip) || registryMissing, concurrency: false },
    () => {
      let d: Dockerd;
      before(async () => {
        setTarget(target, target === 'berthd' ? PENDING : {});
        d = await startDaemon(target);
      });
      after(async () => {
        if (d) await d.stop();
      });

      describe('registry: login, push, pull (plain and on a tty), logout', () => {
        let reg: RegistryInstance;
        before(async () => {
          reg = await startRegistry({ auth: 'htpasswd' });
        });
        after(async () => {
          if (reg) await reg.stop();
        });

        it('pushes and pulls through a registry that wants credentials', async (t) => {
          const ref = `${reg.host}/berth/bb:${SUFFIX}`;
          ok(berth(['tag', IMAGE, ref]));
          // No credentials yet: the registry refuses, both CLIs say so the same way.
          same(['push', ref]);
          const [user, pass] = Object.entries(reg.users)[0]!;
          same(['login', '-u', user, '--password-stdin', reg.host], { input: pass + '\n' });
          same(['login', '-u', user, '--password-stdin', reg.host], { input: 'wrong-password\n' });
          const cfg = JSON.parse(readFileSync(join(d.env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as {
            auths: Record<string, { auth: string }>;
          };
          assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString(), `${user}:${pass}`);
          const push = berth(['push', ref]);
          assert.equal(push.status, 0, push.stderr);
          assert.match(push.stdout, new RegExp(`^The push refers to repository \\[${reg.host}/berth/bb\\]$`, 'm'));
          assert.match(push.stdout, /^[0-9a-f]{12}: Pushed$/m);
          assert.match(push.stdout, new RegExp(`^${SUFFIX}: digest: sha256:[0-9a-f]{64} size: \\d+$`, 'm'));
          // The same push again: the layer is there; both CLIs print the same.
          same(['push', ref]);
          ok(berth(['rmi', ref]));
          const pull = berth(['pull', ref]);
          assert.equal(pull.status, 0, pull.stderr);
          ok(berth(['rmi', ref]));
          const dpull = docker(['pull', ref]);
          assert.equal(normalise(pull.stdout, false), normalise(dpull.stdout, true));
          assert.match(pull.stdout, new RegExp(`^Status: Downloaded newer image for ${ref}\n${ref}\n$`, 'm'));
          same(['pull', ref]); // up to date now, for both
          ok(berth(['rmi', ref]));
          same(['pull', `${reg.host}/berth/no-such-repo:1`]);

          // run of an image that is not there: pulled first, progress on stderr.
          const brun = berth(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled and ran']);
          assert.equal(brun.status, 0, brun.stderr);
          assert.equal(brun.stdout, 'pulled and ran\n');
          assert.match(brun.stderr, new RegExp(`^Unable to find image '${ref}' locally\n`));
          ok(berth(['rmi', ref]));
          const drun = docker(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled and ran']);
          assert.equal(normalise(brun.stderr, false), normalise(drun.stderr, true));
          ok(berth(['rmi', ref]));
          same(['run', '--rm', '--network', 'none', `${reg.host}/berth/bb:${SUFFIX}-absent`]);

          // On a terminal: one line per layer, redrawn in place (cursor up, erase
          // line). The image has a layer of its own, so that it is downloaded.
          const progress = await stepAsync('progress of a pulled layer', async () => {
            const ref2 = `${reg.host}/berth/unique:${SUFFIX}`;
            const dir = mkdtempSync(join(tmpdir(), 'berth-cli-uniq-'));
            try {
              writeFileSync(join(dir, 'unique'), `${Date.now()} ${Math.random()}\n`.repeat(20000));
              execSync(`tar -C ${dir} -cf ${join(dir, 'u.tar')} unique`);
              ok(berth(['import', join(dir, 'u.tar'), ref2]));
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
            ok(berth(['push', ref2]));
            ok(berth(['rmi', ref2]));
            const tty = await driveTty([BERTH, 'pull', ref2], [], { env: d.env, timeoutMs: 60000 });
            ok(berth(['rmi', ref2]));
            assert.equal(tty.code, 0, tty.output);
            const ESC = String.fromCharCode(0x1b);
            assert.match(tty.output, new RegExp(`${ESC}\\[\\d+A`));
            assert.match(tty.output, new RegExp(`${ESC}\\[2K\\r[0-9a-f]{12}: Pull complete`));
          });
          if (progress) t.diagnostic(progress);

          same(['logout', reg.host]);
          same(['logout', reg.host]);

          // Interactive login on a terminal: the username echoed, the password not.
          const secret = reg.users[user]!;
          const prompt = await driveTty(
            [BERTH, 'login', reg.host],
            [
              { expect: /Username: /, send: `${user}\r` },
              { expect: /Password: /, send: `${secret}\r` },
            ],
            { env: d.env, timeoutMs: 60000 },
          );
          assert.equal(prompt.code, 0, prompt.output);
          assert.match(prompt.output, /Login Succeeded/);
          assert.ok(!prompt.output.includes(secret), 'the password is not echoed');
          ok(berth(['logout', reg.host]));
          same(['pull', `${reg.host}/berth/bb:${SUFFIX}-absent`]);
        });
      });

      it('every pending step was reached', { skip: target !== 'berthd' && 'berthd only' }, () => {
        assert.deepEqual(unvisitedPending(), []);
      });
    },
  );
