// `wiretun proxy`'s listeners under load and hostile input, as nobody with every capability dropped, against
// wiretund (the listeners are the client side's: the server is only the far end). A node client in the client
// namespace (rootless/proxy-clients.cjs) holds 1,000 connections open at once through the tunnel to the server
// side's echo port (SOCKS5, HTTP CONNECT and a -L forward in turn), each echoing its own line; then probes the
// SOCKS5 and HTTP listeners with garbage, truncated requests, wrong versions, a huge header, slow and idle
// clients, all at once. Each gets its error reply or a close within a bound (idle and slow ones: the handshake
// timeout, 10 s in crates/wiretun-proxy's Options); a real client behind more idle ones than the listener's
// handshake slots is served once they time out; afterwards every listener still serves a normal request and
// the proxy is still running.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, WIRETUND } from './lib/env';
import { must } from './lib/proc';
import { waitFor } from './lib/wait';
import { hasSetpriv, RootlessPair, rootlessPair, Running, SERVER, startProxy } from './lib/rootless-pair';

const CLIENTS = path.join(__dirname, 'rootless', 'proxy-clients.cjs');
const CONNECTIONS = 1000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const PORTS = { socks: 11081, socksAuth: 11080, http: 13129, httpAuth: 13128, forward: 18007, flood: 11082 };
/** More idle clients than a listener's handshake slots (256, crates/wiretun-proxy's Options). */
const FLOOD = 300;
if (!skipReason && !hasSetpriv) console.warn('\n*** SKIPPED: proxy-load needs setpriv (util-linux) ***\n');

interface Probe {
  name: string;
  port: number;
  send?: string;
  end?: boolean;
  drip?: { hex: string; everyMs: number };
  limitMs: number;
}
interface Outcome { name: string; reply: string; closed: boolean; ms: number; error?: string }

const hex = (...parts: Array<string | number[] | Buffer>) => Buffer.concat(parts.map((p) => Buffer.from(p as string))).toString('hex');
const text = (h: string) => Buffer.from(h, 'hex').toString('latin1');
const V4 = SERVER.v4.split('.').map(Number);
const GREET = [5, 1, 0];
/** A SOCKS5 request whose domain (255 bytes) is long enough to drip for minutes. */
const LONG_REQUEST = [...GREET, 5, 1, 0, 3, 255, ...Buffer.from('a'.repeat(255)), 0, 80];

describe.skipIf(!!skipReason || !hasSetpriv)('wiretun proxy listeners under load and hostile input', () => {
  let pair: RootlessPair;
  let proxy: Running;

  /** node CLIENTS MODE < JSON in the client namespace (as root: it is an app on the client host). */
  const clients = async <T>(mode: string, arg: unknown): Promise<T> => {
    const r = await pair.exec(['prlimit', '--nofile=8192:8192', process.execPath, CLIENTS, mode], { input: JSON.stringify(arg), timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`proxy-clients ${mode}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const threads = async () => Number(/^Threads:\s+(\d+)$/m.exec(await must('cat', [`/proc/${proxy.child.pid}/status`]))![1]);
  const hello = async (args: string[]) => (await pair.exec(['curl', '-sS', '--max-time', '10', ...args])).stdout;

  beforeAll(async () => {
    pair = await rootlessPair(WIRETUND);
    const conf = pair.writeClientConf();
    proxy = await startProxy(pair, [conf, '--socks5', `127.0.0.1:${PORTS.socks}`, '--socks5', `alice:s3cret@127.0.0.1:${PORTS.socksAuth}`,
      '--http', `127.0.0.1:${PORTS.http}`, '--http', `bob:hunter2@127.0.0.1:${PORTS.httpAuth}`, '-L', `18080:${SERVER.v4}:80`,
      '-L', `${PORTS.forward}:${SERVER.v4}:7`, '--socks5', `127.0.0.1:${PORTS.flood}`], 7, { nofile: 8192 });
  });

  afterAll(async () => {
    proxy?.child.kill('SIGKILL');
    await pair?.destroy();
  });

  it.each([
    { kind: 'socks', port: PORTS.socks },
    { kind: 'http', port: PORTS.http },
    { kind: 'forward', port: PORTS.forward },
  ])(`holds ${CONNECTIONS} connections open at once through $kind, each echoing its own bytes end to end`, async ({ kind, port }) => {
    const r = await clients<{ established: number; echoed: number; failures: string[] }>('load',
      { kind, port, target: SERVER.v4, targetPort: 7, count: CONNECTIONS });
    expect(r, proxy.stderr().slice(-3000)).toEqual({ established: CONNECTIONS, echoed: CONNECTIONS, failures: [] });
  });

  it.each([
    { kind: 'socks', port: PORTS.socks },
    { kind: 'http', port: PORTS.http },
  ])('loses no $kind connection when the proxy is stopped and continued mid-load (job control)', async ({ kind, port }) => {
    // After SIGSTOP/SIGCONT a read with a timeout (the handshake's) fails with EINTR instead of restarting.
    const pid = proxy.child.pid!;
    const stall = setInterval(() => (process.kill(pid, 'SIGSTOP'), setTimeout(() => process.kill(pid, 'SIGCONT'), 100)), 300);
    let r;
    try {
      r = await clients<{ established: number; echoed: number; failures: string[] }>('load',
        { kind, port, target: SERVER.v4, targetPort: 7, count: CONNECTIONS });
    } finally {
      clearInterval(stall);
      process.kill(pid, 'SIGCONT');
    }
    expect(r).toEqual({ established: CONNECTIONS, echoed: CONNECTIONS, failures: [] });
  });

  it('answers hostile SOCKS5 and HTTP input with an error reply or a close, within a bound', async () => {
    const quick = 5_000;
    const slowBound = HANDSHAKE_TIMEOUT_MS + 4_000;
    const probes: Probe[] = [
      { name: 'socks: an HTTP request', port: PORTS.socks, send: hex('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), limitMs: quick },
      { name: 'socks: SOCKS4', port: PORTS.socks, send: hex([4, 1, 0, 80, ...V4, 0]), limitMs: quick },
      { name: 'socks: no methods', port: PORTS.socks, send: hex([5, 0]), limitMs: quick },
      { name: 'socks: truncated greeting', port: PORTS.socks, send: hex([5]), end: true, limitMs: quick },
      { name: 'socks: truncated request', port: PORTS.socks, send: hex(GREET, [5, 1, 0, 1, 10, 211]), end: true, limitMs: quick },
      { name: 'socks: wrong version in the request', port: PORTS.socks, send: hex(GREET, [4, 1, 0, 1, ...V4, 0, 7]), limitMs: quick },
      { name: 'socks: BIND', port: PORTS.socks, send: hex(GREET, [5, 2, 0, 1, ...V4, 0, 7]), limitMs: quick },
      { name: 'socks: address type 9', port: PORTS.socks, send: hex(GREET, [5, 1, 0, 9, ...V4, 0, 7]), limitMs: quick },
      { name: 'socks: 64 KB of garbage', port: PORTS.socks, send: hex(Buffer.alloc(65536, 0x41)), limitMs: quick },
      { name: 'socks: 255 junk methods, then 64 KB', port: PORTS.socks, send: hex([5, 255], Buffer.alloc(65536, 0x41)), limitMs: quick },
      { name: 'socks auth: no auth offered', port: PORTS.socksAuth, send: hex(GREET), limitMs: quick },
      { name: 'socks auth: wrong subnegotiation version', port: PORTS.socksAuth, send: hex([5, 1, 2], [9, 1, 97, 1, 98]), limitMs: quick },
      { name: 'socks: slow', port: PORTS.socks, drip: { hex: hex(LONG_REQUEST), everyMs: 250 }, limitMs: slowBound + 5_000 },
      { name: 'socks: idle', port: PORTS.socks, limitMs: slowBound + 5_000 },
      { name: 'http: binary garbage', port: PORTS.http, send: hex(Buffer.from([0, 1, 2, 0xff, 0xfe]), '\r\n\r\n'), limitMs: quick },
      { name: 'http: truncated head', port: PORTS.http, send: hex(`CONNECT ${SERVER.v4}:80 HTTP/1.1\r\nHost: 10.2`), end: true, limitMs: quick },
      { name: 'http: HTTP/2.0', port: PORTS.http, send: hex(`GET http://${SERVER.v4}/ HTTP/2.0\r\n\r\n`), limitMs: quick },
      { name: 'http: origin form', port: PORTS.http, send: hex('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'), limitMs: quick },
      { name: 'http: SOCKS5 greeting', port: PORTS.http, send: hex(GREET), end: true, limitMs: quick },
      { name: 'http: huge header', port: PORTS.http, send: hex(`GET http://${SERVER.v4}/ HTTP/1.1\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`), limitMs: quick },
      { name: 'http auth: no credentials', port: PORTS.httpAuth, send: hex(`CONNECT ${SERVER.v4}:80 HTTP/1.1\r\n\r\n`), limitMs: quick },
      { name: 'http: slow', port: PORTS.http, drip: { hex: hex(`GET http://${SERVER.v4}/hello HTTP/1.1\r\n`, 'X-Slow: yes\r\n'.repeat(40)), everyMs: 250 }, limitMs: slowBound + 5_000 },
      { name: 'http: idle', port: PORTS.http, limitMs: slowBound + 5_000 },
    ];
    const before = await threads();
    // Meanwhile, on a listener of its own, more idle clients than it has handshake slots, then a real one.
    const [outcomes, flood] = await Promise.all([clients<Outcome[]>('probe', probes),
      clients<{ ok: boolean; ms: number; error?: string }>('flood', { port: PORTS.flood, idle: FLOOD, target: SERVER.v4, targetPort: 7 })]);
    const got = Object.fromEntries(outcomes.map((o) => [o.name, o]));
    const closed = (name: string, bound = quick) => {
      expect(got[name], name).toMatchObject({ closed: true });
      expect(got[name].ms, name).toBeLessThan(bound);
      return got[name].reply;
    };
    // SOCKS5: not-SOCKS5 and malformed greetings are closed without a reply; a bad request gets RFC 1928's.
    for (const n of ['socks: an HTTP request', 'socks: SOCKS4', 'socks: truncated greeting', 'socks: 64 KB of garbage']) expect(closed(n), n).toBe('');
    expect(closed('socks: no methods')).toMatch(/^(05ff)?$/);
    expect(closed('socks: 255 junk methods, then 64 KB')).toBe('05ff');
    expect(closed('socks: truncated request')).toBe('0500');
    expect(closed('socks: wrong version in the request')).toMatch(/^05000501/);
    expect(closed('socks: BIND')).toMatch(/^05000507/);
    expect(closed('socks: address type 9')).toMatch(/^05000508/);
    expect(closed('socks auth: no auth offered')).toBe('05ff');
    expect(closed('socks auth: wrong subnegotiation version')).toMatch(/^0502/);
    // HTTP: a status line for every complete bad head; a truncated one is closed.
    const status = (name: string) => text(closed(name)).split('\r\n')[0];
    expect(status('http: binary garbage')).toBe('HTTP/1.1 400 Bad Request');
    expect(status('http: HTTP/2.0')).toBe('HTTP/1.1 400 Bad Request');
    expect(status('http: origin form')).toBe('HTTP/1.1 400 Bad Request');
    expect(status('http: huge header')).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(status('http auth: no credentials')).toBe('HTTP/1.1 407 Proxy Authentication Required');
    expect(closed('http: truncated head')).toBe('');
    expect(closed('http: SOCKS5 greeting')).toMatch(/^(|485454502f312e3120343030.*)$/);
    // Idle and slow clients: dropped once the handshake timeout has passed, not before, however they drip.
    for (const n of ['socks: idle', 'socks: slow', 'http: idle', 'http: slow']) {
      const reply = closed(n, slowBound);
      expect(got[n].ms, n).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 500);
      if (n.startsWith('http')) expect(text(reply)).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      else expect(reply).toBe(n === 'socks: slow' ? '0500' : '');
    }
    // The real client behind the flood waited for a slot (the idle ones' timeout), and was served, not closed.
    expect(flood.error).toBeUndefined();
    expect(flood).toMatchObject({ ok: true });
    expect(flood.ms).toBeLessThan(slowBound);
    expect(flood.ms).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 1_000);
    // No thread left behind per probe (each client's thread ends with it).
    await waitFor('the probes\' threads to end', async () => (await threads()) <= before + 2, { timeoutMs: 5_000 });
  });

  it('still serves normal requests on every listener afterwards', async () => {
    const want = /^hello (::ffff:)?10\.211\.0\.2 http$/;
    const url = `http://${SERVER.v4}/hello`;
    expect(await hello(['--socks5-hostname', `127.0.0.1:${PORTS.socks}`, url])).toMatch(want);
    expect(await hello(['-x', `socks5h://alice:s3cret@127.0.0.1:${PORTS.socksAuth}`, url])).toMatch(want);
    expect(await hello(['-x', `http://127.0.0.1:${PORTS.http}`, url])).toMatch(want);
    expect(await hello(['-p', '-x', `http://bob:hunter2@127.0.0.1:${PORTS.httpAuth}`, url])).toMatch(want);
    expect(await hello(['http://127.0.0.1:18080/hello'])).toMatch(want);
    expect(proxy.child.exitCode).toBeNull();
  });
});
