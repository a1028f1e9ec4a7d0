// The commands scripts/ctr-diff.ts runs with the real ctr on berth-engine
// and on containerd, in order. A step's name starts with its area (ns, img,
// content, snap, lease, ctr, task, run, misc) so that `--only` picks one;
// `always` steps (the pull, the clean-up) run whatever is picked.

export interface Side {
  name: string;
  sock: string;
  dir: string;
  ns: string;
  ref: string;
  /** Values captured from earlier steps (lease ids...), replaced back by placeholders. */
  vars: Map<string, string>;
  events: string;
}

export type Replacement = [RegExp, string | ((m: string) => string)];

export interface Step {
  name: string;
  args: string[] | ((s: Side) => string[]);
  input?: string;
  env?: Record<string, string>;
  timeout?: number;
  /** Save the first word of stdout under this name. */
  capture?: string;
  /** Numbers of 2+ digits (pids, sizes, counts) are placeholders. */
  pids?: boolean;
  normalise?: Replacement[];
  /** Run ctr on a terminal (script(1)). */
  tty?: boolean;
  ignoreStdout?: boolean;
  ignoreStderr?: boolean;
  /** Wait this many ms after the step (a detached task to start). */
  after?: number;
  always?: boolean;
}

const w = (s: Side, name: string) => `${s.dir}/work/${name}`;
const usage: Replacement[] = [[/\d+(\.\d+)? ?[KMG]?i?B/g, '<size>']];

export const steps: Step[] = [
  // ---- misc
  { name: 'misc version', args: ['version'], normalise: [[/Version:.*\n.*Revision:.*/g, '<version>']] },
  { name: 'misc plugins', args: ['plugins', 'ls'], ignoreStdout: true },
  { name: 'misc install', args: ['install', 'example.com/none:1'] },
  // ---- namespaces
  { name: 'ns create', args: ['namespaces', 'create', 'efixns', 'a=b'] },
  { name: 'ns create again', args: ['namespaces', 'create', 'efixns'] },
  { name: 'ns create bad', args: ['namespaces', 'create', 'Bad_NS'] },
  { name: 'ns label', args: ['namespaces', 'label', 'efixns', 'c=d', 'a='] },
  { name: 'ns ls', args: ['namespaces', 'ls'], normalise: [[/^(ctrdiff-[ab]|default)\s.*\n/gm, '']] },
  { name: 'ns ls -q', args: ['namespaces', 'ls', '-q'], normalise: [[/^(ctrdiff-[ab]|default)\n/gm, '']] },
  { name: 'ns rm', args: ['namespaces', 'rm', 'efixns'] },
  { name: 'ns rm missing', args: ['namespaces', 'rm', 'efixns-none'] },
  // ---- images
  { name: 'img pull', args: (s) => ['images', 'pull', '--plain-http', s.ref], ignoreStdout: true, always: true },
  { name: 'img ls', args: ['images', 'ls'] },
  { name: 'img ls -q', args: ['images', 'ls', '-q'] },
  { name: 'img check', args: ['images', 'check'] },
  { name: 'img label', args: (s) => ['images', 'label', s.ref, 'x=y'] },
  { name: 'img tag', args: (s) => ['images', 'tag', s.ref, 'efix.local/copy:1'] },
  { name: 'img tag exists', args: (s) => ['images', 'tag', s.ref, 'efix.local/copy:1'] },
  { name: 'img tag --force', args: (s) => ['images', 'tag', '--force', s.ref, 'efix.local/copy:1'] },
  { name: 'img ls after tag', args: ['images', 'ls'] },
  { name: 'img usage', args: (s) => ['images', 'usage', s.ref] },
  { name: 'img export', args: (s) => ['images', 'export', w(s, 'img.tar'), s.ref] },
  { name: 'img rm tag', args: ['images', 'rm', 'efix.local/copy:1'] },
  { name: 'img rm missing', args: ['images', 'rm', 'efix.local/none:1'] },
  { name: 'img import', args: (s) => ['images', 'import', '--base-name', 'efix.local/imp', w(s, 'img.tar')] },
  { name: 'img import bad', args: ['images', 'import', '/etc/hostname'] },
  { name: 'img mount', args: (s) => ['images', 'mount', s.ref, w(s, '')] },
  { name: 'img unmount', args: (s) => ['images', 'unmount', w(s, '')] },
  { name: 'img unmount again', args: (s) => ['images', 'unmount', w(s, '')] },
  { name: 'img ls -q', args: ['images', 'ls', '-q'] },
  // ---- content
  {
    name: 'content ls',
    args: ['content', 'ls'],
    normalise: [[/\d+ seconds?|Less than a second|About a minute/g, '<age>']],
  },
  { name: 'content ls -q', args: ['content', 'ls', '-q'] },
  { name: 'content get missing', args: ['content', 'get', 'sha256:' + '0'.repeat(64)] },
  { name: 'content get bad', args: ['content', 'get', 'nonsense'] },
  { name: 'content fetch', args: (s) => ['content', 'fetch', '--plain-http', s.ref], ignoreStdout: true },
  { name: 'content active', args: ['content', 'active'] },
  { name: 'content label missing', args: ['content', 'label', 'sha256:' + '0'.repeat(64), 'a=b'] },
  { name: 'content rm missing', args: ['content', 'rm', 'sha256:' + '0'.repeat(64)] },
  // ---- snapshots
  { name: 'snap prepare', args: ['snapshots', 'prepare', 'efix-act', ''] },
  { name: 'snap prepare again', args: ['snapshots', 'prepare', 'efix-act', ''] },
  { name: 'snap info', args: ['snapshots', 'info', 'efix-act'] },
  { name: 'snap mounts', args: (s) => ['snapshots', 'mounts', w(s, 'm'), 'efix-act'], pids: true },
  { name: 'snap commit', args: ['snapshots', 'commit', 'efix-com', 'efix-act'] },
  { name: 'snap commit missing', args: ['snapshots', 'commit', 'efix-com2', 'efix-none'] },
  { name: 'snap view', args: ['snapshots', 'view', 'efix-view', 'efix-com'], pids: true },
  { name: 'snap view missing parent', args: ['snapshots', 'view', 'efix-view2', 'efix-none'] },
  { name: 'snap label', args: ['snapshots', 'label', 'efix-com', 'l=1'] },
  { name: 'snap info com', args: ['snapshots', 'info', 'efix-com'] },
  { name: 'snap ls', args: ['snapshots', 'ls'] },
  { name: 'snap tree', args: ['snapshots', 'tree'] },
  { name: 'snap usage', args: ['snapshots', 'usage'], normalise: usage },
  { name: 'snap usage one', args: ['snapshots', 'usage', 'efix-com'], normalise: usage },
  { name: 'snap rm parent', args: ['snapshots', 'rm', 'efix-com'] },
  { name: 'snap rm', args: ['snapshots', 'rm', 'efix-view', 'efix-com'] },
  { name: 'snap rm missing', args: ['snapshots', 'rm', 'efix-none'] },
  { name: 'snap info missing', args: ['snapshots', 'info', 'efix-none'] },
  // ---- leases
  { name: 'lease create', args: ['leases', 'create', '--label', 'k=v'], capture: 'lease' },
  { name: 'lease create id', args: ['leases', 'create', '--id', 'efix-lease', '--expires', '1h'] },
  { name: 'lease create dup', args: ['leases', 'create', '--id', 'efix-lease'] },
  { name: 'lease ls', args: ['leases', 'ls'] },
  { name: 'lease ls -q', args: ['leases', 'ls', '-q'] },
  { name: 'lease rm', args: (s) => ['leases', 'rm', s.vars.get('lease') ?? '', 'efix-lease'] },
  { name: 'lease rm missing', args: ['leases', 'rm', 'efix-none'] },
  // ---- containers
  { name: 'ctr create', args: (s) => ['containers', 'create', '--label', 'l=1', s.ref, 'efix-c1', 'sleep', '600'] },
  { name: 'ctr create dup', args: (s) => ['containers', 'create', s.ref, 'efix-c1', 'true'] },
  { name: 'ctr create bad id', args: (s) => ['containers', 'create', s.ref, 'bad/id', 'true'] },
  { name: 'ctr create no image', args: ['containers', 'create', 'efix.local/none:1', 'efix-c2', 'true'] },
  { name: 'ctr ls', args: ['containers', 'ls'] },
  { name: 'ctr info', args: ['containers', 'info', 'efix-c1'], ignoreStdout: true },
  { name: 'ctr info spec', args: ['containers', 'info', '--spec', 'efix-c1'] },
  { name: 'ctr label', args: ['containers', 'label', 'efix-c1', 'm=2', 'l='] },
  { name: 'ctr info missing', args: ['containers', 'info', 'efix-none'] },
  // ---- tasks
  { name: 'task start -d', args: ['tasks', 'start', '-d', 'efix-c1'], after: 300 },
  { name: 'task start again', args: ['tasks', 'start', '-d', 'efix-c1'] },
  { name: 'task ls', args: ['tasks', 'ls'], pids: true },
  { name: 'task ps', args: ['tasks', 'ps', 'efix-c1'], pids: true },
  { name: 'task exec', args: ['tasks', 'exec', '--exec-id', 'e1', 'efix-c1', 'sh', '-c', 'echo hi; id; pwd; exit 3'] },
  { name: 'task exec dup id', args: ['tasks', 'exec', '--exec-id', 'e1', 'efix-c1', 'true'] },
  { name: 'task exec missing bin', args: ['tasks', 'exec', '--exec-id', 'e2', 'efix-c1', '/nonexistent'] },
  { name: 'task exec stdin', args: ['tasks', 'exec', '--exec-id', 'e3', 'efix-c1', 'cat'], input: 'in\n' },
  { name: 'task pause', args: ['tasks', 'pause', 'efix-c1'] },
  { name: 'task ls paused', args: ['tasks', 'ls'], pids: true },
  { name: 'task pause again', args: ['tasks', 'pause', 'efix-c1'] },
  { name: 'task resume', args: ['tasks', 'resume', 'efix-c1'] },
  { name: 'task resume again', args: ['tasks', 'resume', 'efix-c1'] },
  { name: 'task metrics', args: ['tasks', 'metrics', 'efix-c1'], pids: true, ignoreStdout: true },
  {
    name: 'task metrics json',
    args: ['tasks', 'metrics', '--format', 'json', 'efix-c1'],
    // the fields, not their values
    normalise: [[/-?\d+(\.\d+)?/g, '<n>']],
  },
  { name: 'task checkpoint', args: ['tasks', 'checkpoint', 'efix-c1'] },
  { name: 'task kill bad signal', args: ['tasks', 'kill', '-s', 'SIGNOPE', 'efix-c1'] },
  { name: 'task kill missing', args: ['tasks', 'kill', 'efix-none'] },
  { name: 'task rm running', args: ['tasks', 'rm', 'efix-c1'] },
  { name: 'ctr rm with task', args: ['containers', 'rm', 'efix-c1'] },
  { name: 'task kill', args: ['tasks', 'kill', '-s', 'SIGKILL', 'efix-c1'], after: 500 },
  { name: 'task ls stopped', args: ['tasks', 'ls'], pids: true },
  { name: 'task kill stopped', args: ['tasks', 'kill', 'efix-c1'] },
  { name: 'task exec stopped', args: ['tasks', 'exec', '--exec-id', 'e4', 'efix-c1', 'true'] },
  { name: 'task pause stopped', args: ['tasks', 'pause', 'efix-c1'] },
  { name: 'task rm', args: ['tasks', 'rm', 'efix-c1'], pids: true },
  { name: 'task rm again', args: ['tasks', 'rm', 'efix-c1'] },
  { name: 'task metrics none', args: ['tasks', 'metrics', 'efix-c1'], pids: true },
  { name: 'ctr rm', args: ['containers', 'rm', 'efix-c1'], always: true },
  { name: 'ctr rm missing', args: ['containers', 'rm', 'efix-c1'] },
  // ---- run
  { name: 'run rm exit', args: (s) => ['run', '--rm', s.ref, 'efix-r1', 'sh', '-c', 'echo out; echo err >&2; exit 7'] },
  {
    name: 'run env cwd user',
    args: (s) => [
      'run',
      '--rm',
      '--env',
      'A=1',
      '--cwd',
      '/tmp',
      '--user',
      '1000:1000',
      s.ref,
      'efix-r2',
      'sh',
      '-c',
      'echo $A; pwd; id',
    ],
  },
  {
    name: 'run default env',
    args: (s) => [
      'run',
      '--rm',
      s.ref,
      'efix-r3',
      'sh',
      '-c',
      'env | sort; ulimit -n; cat /proc/self/status | grep -E "^(Cap|NoNewPrivs|Seccomp)"',
    ],
    normalise: [[/HOSTNAME=.*/g, 'HOSTNAME=<h>']],
  },
  {
    name: 'run mounts',
    args: (s) => ['run', '--rm', s.ref, 'efix-r4', 'sh', '-c', 'cat /proc/self/mounts | cut -d" " -f1-4 | sort'],
    normalise: [
      [/^overlay \/ overlay .*$/m, 'overlay / overlay <opts>'],
      [/size=\d+k/g, 'size=<k>'],
    ],
  },
  {
    name: 'run hostname',
    args: (s) => [
      'run',
      '--rm',
      s.ref,
      'efix-r5',
      'sh',
      '-c',
      'hostname; cat /etc/hosts /etc/resolv.conf 2>&1; ls /dev | sort | tr "\\n" " "',
    ],
  },
  {
    name: 'run mount',
    args: (s) => [
      'run',
      '--rm',
      '--mount',
      `type=bind,src=${s.dir}/work,dst=/host,options=rbind:ro`,
      s.ref,
      'efix-r6',
      'sh',
      '-c',
      'ls /host; touch /host/x',
    ],
  },
  {
    name: 'run memory cpus',
    args: (s) => [
      'run',
      '--rm',
      '--memory-limit',
      '67108864',
      '--cpus',
      '0.5',
      s.ref,
      'efix-r7',
      'sh',
      '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>&1',
    ],
  },
  {
    name: 'run privileged',
    args: (s) => [
      'run',
      '--rm',
      '--privileged',
      s.ref,
      'efix-r8',
      'sh',
      '-c',
      'grep Cap /proc/self/status; ls /dev | wc -l',
    ],
    normalise: [[/^\d+$/m, '<n>']],
  },
  {
    name: 'run net-host',
    args: (s) => [
      'run',
      '--rm',
      '--net-host',
      s.ref,
      'efix-r9',
      'sh',
      '-c',
      'ls /sys/class/net | grep -c lo; readlink /proc/self/ns/net',
    ],
    normalise: [[/net:\[\d+\]/, 'net:<n>']],
  },
  { name: 'run netns', args: (s) => ['run', '--rm', s.ref, 'efix-r10', 'sh', '-c', 'ls /sys/class/net'] },
  { name: 'run tty', tty: true, args: (s) => ['run', '--rm', '-t', s.ref, 'efix-r11', 'sh', '-c', 'tty; stty size'] },
  {
    name: 'run null-io',
    args: (s) => ['run', '--rm', '--null-io', s.ref, 'efix-r12', 'sh', '-c', 'echo lost; exit 4'],
  },
  {
    name: 'run label',
    args: (s) => ['run', '-d', '--label', 'who=efix', s.ref, 'efix-r13', 'sleep', '600'],
    after: 300,
  },
  { name: 'run label ls', args: ['containers', 'ls', 'labels.who==efix'] },
  { name: 'run rm -d', args: (s) => ['run', '--rm', '-d', s.ref, 'efix-r14', 'true'] },
  { name: 'run dup', args: (s) => ['run', '-d', s.ref, 'efix-r13', 'true'] },
  { name: 'run kill -a', args: ['tasks', 'kill', '-a', '-s', 'SIGKILL', 'efix-r13'], after: 500 },
  { name: 'run rm -f', args: ['containers', 'rm', 'efix-r13'], always: true },
  {
    name: 'run native',
    args: (s) => [
      'run',
      '--rm',
      '--snapshotter',
      'native',
      s.ref,
      'efix-r15',
      'sh',
      '-c',
      'grep " / " /proc/self/mounts | cut -d" " -f1-3',
    ],
    ignoreStdout: true,
  },
  { name: 'run bad snapshotter', args: (s) => ['run', '--rm', '--snapshotter', 'nope', s.ref, 'efix-r16', 'true'] },
  {
    name: 'run runc-binary',
    args: (s) => [
      'run',
      '--rm',
      '--runtime',
      'io.containerd.runc.v2',
      '--runc-binary',
      'runc',
      s.ref,
      'efix-r17',
      'sh',
      '-c',
      'echo ok',
    ],
  },
  {
    name: 'run runc-binary missing',
    args: (s) => ['run', '--rm', '--runc-binary', '/nonexistent/runc', s.ref, 'efix-r18', 'true'],
  },
  {
    name: 'run runtime unknown',
    args: (s) => ['run', '--rm', '--runtime', 'io.containerd.nope.v1', s.ref, 'efix-r19', 'true'],
  },
  {
    name: 'run log-uri',
    args: (s) => [
      'run',
      '--rm',
      '--log-uri',
      `file://${s.dir}/work/log.txt`,
      s.ref,
      'efix-r20',
      'sh',
      '-c',
      'echo logged',
    ],
  },
  { name: 'run missing bin', args: (s) => ['run', '--rm', s.ref, 'efix-r21', '/nonexistent'] },
  { name: 'run read-only', args: (s) => ['run', '--rm', '--read-only', s.ref, 'efix-r22', 'touch', '/x'] },
  {
    name: 'run attach start',
    args: (s) => ['run', '-d', s.ref, 'efix-at', 'sh', '-c', 'sleep 1; echo late; exit 5'],
  },
  { name: 'run attach', args: ['tasks', 'attach', 'efix-at'] },
  { name: 'run attach rm', args: ['tasks', 'rm', 'efix-at'], pids: true },
  { name: 'run attach ctr rm', args: ['containers', 'rm', 'efix-at'], always: true },
  {
    name: 'run stdin',
    args: (s) => ['run', '--rm', s.ref, 'efix-in', 'sh', '-c', 'read l; echo got $l'],
    input: 'piped\n',
  },
  {
    name: 'run tty stdin',
    tty: true,
    args: (s) => ['run', '--rm', '-t', s.ref, 'efix-tin', 'sh', '-c', 'echo $TERM; exit 6'],
  },
  {
    name: 'run seccomp',
    args: (s) => ['run', '--rm', '--seccomp', s.ref, 'efix-r30', 'grep', 'Seccomp:', '/proc/self/status'],
  },
  {
    name: 'run cap-add',
    args: (s) => [
      'run',
      '--rm',
      '--cap-add',
      'CAP_SYS_ADMIN',
      s.ref,
      'efix-r31',
      'grep',
      'CapEff',
      '/proc/self/status',
    ],
  },
  {
    name: 'run cap-drop',
    args: (s) => ['run', '--rm', '--cap-drop', 'CAP_CHOWN', s.ref, 'efix-r32', 'grep', 'CapEff', '/proc/self/status'],
  },
  {
    name: 'run allow-new-privs',
    args: (s) => ['run', '--rm', '--allow-new-privs', s.ref, 'efix-r33', 'grep', 'NoNewPrivs', '/proc/self/status'],
  },
  {
    name: 'run annotation env-file',
    args: (s) => ['run', '--rm', '--annotation', 'a=b', '--env-file', '/dev/null', s.ref, 'efix-r34', 'true'],
  },
  {
    name: 'run cgroup none',
    args: (s) => [
      'run',
      '--rm',
      '--cgroup',
      '',
      s.ref,
      'efix-r35',
      'sh',
      '-c',
      'cat /proc/self/cgroup | grep -c efix-r35',
    ],
  },
  {
    name: 'run cgroup path',
    args: (s) => [
      'run',
      '--rm',
      '--cgroup',
      `/${s.ns}-cg/x`,
      s.ref,
      'efix-r36',
      'sh',
      '-c',
      'grep memory /proc/self/cgroup',
    ],
  },
  { name: 'run pid-file', args: (s) => ['run', '--rm', '--pid-file', `${s.dir}/work/pid`, s.ref, 'efix-r37', 'true'] },
  {
    name: 'run cpu-shares quota',
    args: (s) => [
      'run',
      '--rm',
      '--cpu-shares',
      '512',
      '--cpu-quota',
      '20000',
      '--cpu-period',
      '100000',
      s.ref,
      'efix-r38',
      'sh',
      '-c',
      'cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
    ],
  },
  {
    name: 'run device',
    args: (s) => ['run', '--rm', '--device', '/dev/fuse', s.ref, 'efix-r39', 'ls', '-l', '/dev/fuse'],
    normalise: [[/\w{3} +\d+ \d\d:\d\d/g, '<date>']],
  },
  {
    name: 'run rootfs-propagation',
    args: (s) => ['run', '--rm', '--rootfs-propagation', 'shared', s.ref, 'efix-r40', 'true'],
  },
  { name: 'run no-pivot', args: (s) => ['run', '--rm', '--no-pivot', s.ref, 'efix-r41', 'true'] },
  {
    name: 'run uidmap',
    args: (s) => [
      'run',
      '--rm',
      '--uidmap',
      '0:100000:65536',
      '--gidmap',
      '0:100000:65536',
      s.ref,
      'efix-r42',
      'cat',
      '/proc/self/uid_map',
    ],
  },
  {
    name: 'run with-ns',
    args: (s) => ['run', '--rm', '--with-ns', 'network:/proc/1/ns/net', s.ref, 'efix-r43', 'true'],
  },
  { name: 'run platform', args: (s) => ['run', '--rm', '--platform', 'linux/s390x', s.ref, 'efix-r44', 'true'] },
  {
    name: 'content label',
    args: ['content', 'label', 'sha256:ba08b654a61ef110a295e1cec1f9712c5e0aa687c62af640b52cf7d4b81cbf5c', 'efix=1'],
  },
  { name: 'content ls filter', args: ['content', 'ls', '-q', 'labels.efix==1'] },
  { name: 'containers ls filter', args: ['containers', 'ls', '-q', 'image~=efix'] },
  { name: 'images ls filter', args: ['images', 'ls', '-q', 'name~=diff'] },
  { name: 'images pull bad ref', args: ['images', 'pull', '--plain-http', '127.0.0.1:1/none:1'] },
  { name: 'images pull bad name', args: ['images', 'pull', 'UPPER/case'] },
  { name: 'gone containers label', args: ['containers', 'label', 'efix-none', 'a=b'] },
  { name: 'gone tasks ps', args: ['tasks', 'ps', 'efix-none'] },
  { name: 'gone tasks attach', args: ['tasks', 'attach', 'efix-none'] },
  { name: 'gone tasks start', args: ['tasks', 'start', 'efix-none'] },
  { name: 'gone tasks exec', args: ['tasks', 'exec', '--exec-id', 'x', 'efix-none', 'true'] },
  { name: 'gone images check', args: ['images', 'check', 'name==efix.local/none:1'] },
  { name: 'gone images label', args: ['images', 'label', 'efix.local/none:1', 'a=b'] },
  { name: 'gone images export', args: (s) => ['images', 'export', `${s.dir}/work/none.tar`, 'efix.local/none:1'] },
  { name: 'gone snapshots native', args: ['snapshots', '--snapshotter', 'native', 'ls'] },
  { name: 'gone snapshots bad', args: ['snapshots', '--snapshotter', 'nope', 'ls'] },
  { name: 'gone filter bad', args: ['images', 'ls', 'name=='] },
  { name: 'gone leases filter', args: ['leases', 'ls', 'id==efix-none'] },
  { name: 'gone content fetch', args: ['content', 'fetch', '--plain-http', '127.0.0.1:1/none:1'] },
  { name: 'run ls after', args: ['containers', 'ls'] },
  // ---- clean-up
  {
    name: 'end img rm',
    args: (s) => ['images', 'rm', '--sync', s.ref, 'efix.local/imp:latest'],
    always: true,
    ignoreStdout: true,
  },
];
