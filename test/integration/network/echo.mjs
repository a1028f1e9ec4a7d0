// A TCP/UDP echo that tells the peer's address, run inside a test's network
// namespace (`ip netns exec NS node echo.mjs ...`): the reply "<peer>|<data>"
// proves both the path and the source address (NAT) a packet came with.
//   node echo.mjs server tcp|udp HOST PORT     prints "ready" once listening
//   node echo.mjs client tcp|udp HOST PORT MSG prints the reply; exit 1 on timeout/error
import net from 'node:net';
import dgram from 'node:dgram';

const [mode, proto, host, portText, msg] = process.argv.slice(2);
const port = Number(portText);
if (mode === 'server') {
  if (proto === 'tcp') {
    net
      .createServer((s) => s.on('data', (d) => s.end(`${s.remoteAddress}|${d}`)))
      .listen(port, host, () => console.log('ready'));
  } else {
    const s = dgram.createSocket('udp4');
    s.on('message', (d, r) => s.send(`${r.address}|${d}`, r.port, r.address));
    s.bind(port, host, () => console.log('ready'));
  }
} else {
  setTimeout(() => {
    console.error('timeout');
    process.exit(1);
  }, 2000).unref();
  if (proto === 'tcp') {
    const s = net.connect(port, host, () => s.write(msg));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => {
      console.log(out);
      process.exit(0);
    });
    s.on('error', (e) => {
      console.error(e.message);
      process.exit(1);
    });
  } else {
    const s = dgram.createSocket('udp4');
    s.on('message', (d) => {
      console.log(String(d));
      process.exit(0);
    });
    s.send(msg, port, host);
  }
}
