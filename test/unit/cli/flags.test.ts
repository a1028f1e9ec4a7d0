// The pflag-style parser: the forms cobra/pflag accept for docker, and the
// error texts pflag gives.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, FlagError, type FlagSpec } from '../../../src/cli/berth/flags.js';
import { parsePublish, parseMount, ramInBytes, parseDuration } from '../../../src/cli/berth/cmd/runopts.js';
import { humanDuration, humanSizeWithPrecision, bytesSize } from '../../../src/cli/berth/units.js';
import { displayablePorts } from '../../../src/cli/berth/cmd/ps.js';
import { referenceError } from '../../../src/cli/berth/reference.js';
import { apiTimestamp, goTimeStringRFC3339 } from '../../../src/cli/berth/units.js';

const specs: FlagSpec[] = [
  { name: 'interactive', short: 'i', type: 'bool', usage: '' },
  { name: 'tty', short: 't', type: 'bool', usage: '' },
  { name: 'detach', short: 'd', type: 'bool', usage: '' },
  { name: 'name', type: 'string', usage: '' },
  { name: 'env', short: 'e', type: 'list', usage: '' },
  { name: 'publish', short: 'p', type: 'list', usage: '' },
  { name: 'last', short: 'n', type: 'int', usage: '', default: -1 },
];

describe('flag parser (pflag semantics)', () => {
  it('long forms, =value, combined shorthands, attached shorthand values, repeats', () => {
    const r = parseFlags(
      ['-it', '--name=web', '-e', 'A=1', '--env', 'B=2', '-p80:80', '-p=81:81', '-n', '5', 'img'],
      specs,
    );
    assert.equal(r.flags.bool('interactive'), true);
    assert.equal(r.flags.bool('tty'), true);
    assert.equal(r.flags.string('name'), 'web');
    assert.deepEqual(r.flags.list('env'), ['A=1', 'B=2']);
    assert.deepEqual(r.flags.list('publish'), ['80:80', '81:81']);
    assert.equal(r.flags.int('last'), 5);
    assert.deepEqual(r.args, ['img']);
    assert.equal(parseFlags([], specs).flags.int('last'), -1, 'defaults');
    assert.equal(parseFlags(['--detach=false'], specs).flags.bool('detach'), false);
    assert.equal(parseFlags(['-d=true'], specs).flags.bool('detach'), true);
  });

  it('interspersed flags, the -- terminator, and commands that stop at the first argument', () => {
    assert.deepEqual(parseFlags(['a', '-d', 'b'], specs).args, ['a', 'b']);
    const run = parseFlags(['-d', 'img', 'sh', '-c', '--name', 'x'], specs, false);
    assert.deepEqual(run.args, ['img', 'sh', '-c', '--name', 'x']);
    assert.equal(run.flags.string('name'), '');
    assert.deepEqual(parseFlags(['--', '-d'], specs).args, ['-d']);
    assert.equal(parseFlags(['-h'], specs).help, true);
    assert.equal(parseFlags(['x', '--help'], specs).help, true);
  });

  it("pflag's error texts", () => {
    const err = (argv: string[], msg: string) =>
      assert.throws(
        () => parseFlags(argv, specs),
        (e: unknown) => e instanceof FlagError && e.message === msg,
      );
    err(['--nope'], 'unknown flag: --nope');
    err(['-x'], "unknown shorthand flag: 'x' in -x");
    err(['-ix'], "unknown shorthand flag: 'x' in -ix");
    err(['--name'], 'flag needs an argument: --name');
    err(['-e'], "flag needs an argument: 'e' in -e");
    err(['-n', 'abc'], 'invalid argument "abc" for "-n, --last" flag: strconv.ParseInt: parsing "abc": invalid syntax');
    err(
      ['--detach=maybe'],
      'invalid argument "maybe" for "-d, --detach" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
  });
});

describe('run options', () => {
  it('-p forms: ranges, ip, protocol; and the messages for bad ones', () => {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    parsePublish(['8080:80', '127.0.0.1:9000-9001:90-91/udp', '53', '[::1]:5353:53/udp'], exposed, bindings);
    assert.deepEqual(Object.keys(exposed).sort(), ['53/tcp', '53/udp', '80/tcp', '90/udp', '91/udp']);
    assert.deepEqual(bindings['80/tcp'], [{ HostIp: '', HostPort: '8080' }]);
    assert.deepEqual(bindings['91/udp'], [{ HostIp: '127.0.0.1', HostPort: '9001' }]);
    assert.deepEqual(bindings['53/tcp'], [{ HostIp: '', HostPort: '' }]);
    assert.deepEqual(bindings['53/udp'], [{ HostIp: '::1', HostPort: '5353' }]);
    assert.throws(() => parsePublish(['abc'], {}, {}), { message: 'invalid containerPort: abc' });
    assert.throws(() => parsePublish(['80/xyz'], {}, {}), { message: 'invalid proto: xyz' });
    assert.throws(() => parsePublish(['1:2:3:4'], {}, {}), { message: 'invalid port format for --publish: 1:2:3:4' });
  });

  it('--mount fields and errors; sizes and durations', () => {
    assert.deepEqual(parseMount('type=bind,source=/a,target=/b,readonly'), {
      Type: 'bind',
      Source: '/a',
      Target: '/b',
      ReadOnly: true,
    });
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), {
      Type: 'tmpfs',
      Target: '/t',
      TmpfsOptions: { SizeBytes: 1048576 },
    });
    assert.throws(() => parseMount('type=bind'), {
      message: 'invalid argument "type=bind" for "--mount" flag: target is required',
    });
    assert.throws(() => parseMount('type=bind,bogus'), {
      message:
        'invalid argument "type=bind,bogus" for "--mount" flag: invalid field \'bogus\' must be a key=value pair',
    });
    assert.equal(ramInBytes('64m'), 64 * 1024 * 1024);
    assert.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
    assert.throws(() => ramInBytes('lots'), { message: "invalid size: 'lots'" });
    assert.equal(parseDuration('1m30s', 'x'), 90e9);
    assert.equal(parseDuration('250ms', 'x'), 250e6);
  });

  it("go-units' sizes and durations, docker's port summary", () => {
    assert.equal(humanSizeWithPrecision(1984000, 3), '1.98MB');
    assert.equal(humanSizeWithPrecision(0, 3), '0B');
    assert.equal(humanSizeWithPrecision(999, 3), '999B');
    assert.equal(bytesSize(25273061376), '23.54GiB');
    assert.equal(humanDuration(500), 'Less than a second');
    assert.equal(humanDuration(61000), 'About a minute');
    assert.equal(humanDuration(3 * 3600e3), '3 hours');
    assert.equal(humanDuration(3 * 24 * 3600e3), '3 days');
    assert.equal(
      displayablePorts([
        { PrivatePort: 80, Type: 'tcp' },
        { PrivatePort: 81, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 443, PublicPort: 8443, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
      ]),
      '53/udp, 80-81/tcp, 0.0.0.0:8443->443/tcp',
    );
  });

  it("Go's time.Time.String(): the year in four digits, even year 1 (a network's zero CreatedAt)", () => {
    const tz = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      assert.equal(goTimeStringRFC3339('0001-01-01T00:00:00Z'), '0001-01-01 00:00:00 +0000 UTC');
      assert.equal(goTimeStringRFC3339('2026-12-04T21:24:32.5Z'), '2026-12-04 21:24:32.5 +0000 UTC');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('references and timestamps', () => {
  it("distribution/reference's grammar and docker's messages", () => {
    for (const ok of [
      'busybox',
      'busybox:1.36',
      'library/busybox:latest',
      'localhost:5000/a/b',
      '127.0.0.1:5000/x/y:t',
      `a@sha256:${'0'.repeat(64)}`,
      'a_b.c-d/e__f',
    ]) {
      assert.equal(referenceError(ok), undefined, ok);
    }
    assert.equal(
      referenceError('Busybox'),
      'invalid reference format: repository name (library/Busybox) must be lowercase',
    );
    assert.equal(referenceError('me/Box:1'), 'invalid reference format: repository name (me/Box) must be lowercase');
    assert.equal(
      referenceError('reg.example:5000/Up/per:1'),
      'invalid reference format: repository name (Up/per) must be lowercase',
    );
    for (const bad of ['a@b', 'x:y:z', 'ok/-bad', '', 'a//b', 'a:'])
      assert.equal(referenceError(bad), 'invalid reference format', bad);
  });

  it('--since/--until: durations before now, Unix seconds, dates', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    assert.equal(apiTimestamp('10m', 'since', now), String(Date.parse('2026-01-01T00:00:00Z') / 1000));
    assert.equal(apiTimestamp('1700000000.5', 'since', now), '1700000000.5');
    assert.equal(apiTimestamp('2000-01-01T00:00:00.25Z', 'since', now), '946684800.250000000');
    assert.throws(() => apiTimestamp('bogus', 'since', now), {
      message: 'invalid value for "since": failed to parse value as time or duration: "bogus"',
    });
    assert.throws(() => apiTimestamp('bogus', undefined, now), {
      message: 'failed to parse value as time or duration: "bogus"',
    });
  });
});
