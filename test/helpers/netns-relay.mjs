// A TCP relay across network namespaces through a unix socket (a file, seen
// from every network namespace): berthd run in a test's own namespace
// reaches the test's registry on the host's 127.0.0.1 this way, and no packet
// leaves either loopback.
//   node netns-relay.mjs unix-to-tcp SOCKET HOST:PORT   listen on SOCKET, connect to HOST:PORT
//   node netns-relay.mjs tcp-to-unix HOST:PORT SOCKET   listen on HOST:PORT, connect to SOCKET
// Prints "ready" once listening.
import { createConnection, createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [mode, from, to] = process.argv.slice(2);
const hp = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};
const target = mode === 'unix-to-tcp' ? hp(to) : { path: to };
const server = createServer((c) => {
  const up = createConnection(target);
  c.pipe(up).pipe(c);
  const end = () => {
    c.destroy();
    up.destroy();
  };
  c.on('error', end);
  up.on('error', end);
});
if (mode === 'unix-to-tcp') {
  rmSync(from, { force: true });
  server.listen(from, () => console.log('ready'));
} else if (mode === 'tcp-to-unix') {
  server.listen(hp(from).port, hp(from).host, () => console.log('ready'));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
