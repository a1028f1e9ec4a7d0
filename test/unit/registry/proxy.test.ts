import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyFor, proxyFromEnv, proxyAuthorization } from '../../../src/image/registry/proxy.js';

const P = { httpProxy: 'http://hp:3128', httpsProxy: 'proxy.corp:8080' };

test('scheme picks the proxy; bare host:port proxies get http://', () => {
  assert.equal(proxyFor(new URL('http://reg.example/v2/'), P)?.href, 'http://hp:3128/');
  assert.equal(proxyFor(new URL('https://reg.example/v2/'), P)?.href, 'http://proxy.corp:8080/');
  assert.equal(proxyFor(new URL('https://reg.example/'), { httpProxy: 'http://x:1' }), undefined);
  assert.throws(
    () => proxyFor(new URL('https://reg.example/'), { httpsProxy: 'socks5://x:1' }),
    /only http:\/\/ proxies/,
  );
});

test('localhost and loopback are never proxied', () => {
  for (const u of ['https://localhost:5000/', 'https://127.0.0.1/', 'https://127.9.9.9:1/', 'https://[::1]:5000/']) {
    assert.equal(proxyFor(new URL(u), P), undefined, u);
  }
});

test('NO_PROXY: *, domains, subdomains, IPs, CIDRs, ports', () => {
  const s = (noProxy: string) => ({ ...P, noProxy });
  assert.equal(proxyFor(new URL('https://a.example/'), s('*')), undefined);
  assert.equal(proxyFor(new URL('https://example.com/'), s('example.com')), undefined);
  assert.equal(proxyFor(new URL('https://sub.example.com/'), s('example.com')), undefined);
  assert.equal(proxyFor(new URL('https://sub.example.com/'), s('.example.com')), undefined);
  assert.ok(proxyFor(new URL('https://notexample.com/'), s('example.com')));
  assert.equal(proxyFor(new URL('https://10.1.2.3/'), s('10.0.0.0/8')), undefined);
  assert.equal(proxyFor(new URL('https://10.1.2.3/'), s('10.1.2.3')), undefined);
  assert.ok(proxyFor(new URL('https://10.1.2.4/'), s('10.1.2.3')));
  assert.equal(proxyFor(new URL('https://reg.example:5000/'), s('reg.example:5000')), undefined);
  assert.ok(proxyFor(new URL('https://reg.example:5001/'), s('reg.example:5000')));
  assert.equal(proxyFor(new URL('https://reg.example/'), s(' other , REG.example ')), undefined);
});

test('environment, upper case first; proxy credentials', () => {
  assert.deepEqual(proxyFromEnv({ HTTPS_PROXY: 'a:1', http_proxy: 'b:2', no_proxy: 'c' }), {
    httpsProxy: 'a:1',
    httpProxy: 'b:2',
    noProxy: 'c',
  });
  assert.deepEqual(proxyFromEnv({}), { httpsProxy: undefined, httpProxy: undefined, noProxy: undefined });
  assert.equal(
    proxyAuthorization(new URL('http://u%40x:p%3Aw@h:1')),
    'Basic ' + Buffer.from('u@x:p:w').toString('base64'),
  );
  assert.equal(proxyAuthorization(new URL('http://h:1')), undefined);
});
