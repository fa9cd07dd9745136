// The console's API fuzzed from its own OpenAPI document by schemathesis (test/lib/schemathesis.ts), once per kind
// of principal (a read token, a write token, an admin session), with every check schemathesis has: no 5xx; every
// status, content type, header and body as documented; valid data accepted and invalid refused; credentials
// enforced as declared; 405 with Allow. The console is the real `wiretun serve` inside a network namespace of its
// own, so the interfaces the fuzzer brings up (POST .../up) exist there and nowhere else. Both store modes: config
// files with SQLite, and PostgreSQL (cluster mode, whose locations the fuzzer may also create and delete).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey } from '../../ts/keys';
import { startPostgres } from '../lib/postgres';
import { fuzzApi, fuzzSkipReason, FuzzOptions, SCHEMATHESIS } from '../lib/schemathesis';
import { REPO } from './lib/env';
import { killDaemons, removeSocket } from './lib/lab';
import { Background, must, run, start } from './lib/proc';
import { waitFor } from './lib/wait';

const skip = fuzzSkipReason('test/netns/serve-fuzz.test.ts');
const BIN = path.join(REPO, 'bin', 'wiretun');
const PASSWORD = 'a password for the fuzzer';
const PORT = 51821;
/** Per principal: schemathesis fuzzes until this is spent, so the file takes about 3 x this. Longer runs find more. */
const FUZZ_SECONDS = Number(process.env.WIRETUN_FUZZ_SECONDS ?? 40);

/** A console being fuzzed: where it answers, the interfaces it manages, and how to stop it. */
interface Console {
  url: string;
  ns: string;
  /** Scratch space for this console's runs. */
  dir: string;
  ifaces: string[];
  serve: Background;
  stop(): Promise<void>;
}

/** File mode: `wiretun serve` over two config files, its state in SQLite, in a namespace of its own. */
async function fileConsole(): Promise<Console> {
  const ns = `wtfz-${process.pid}`;
  const ifaces = ['a', 'b'].map((x) => `wtfz${process.pid % 100000}${x}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'wtfz-'));
  const etc = path.join(dir, 'etc');
  mkdirSync(etc, { mode: 0o700 });
  const confs = ifaces.map((name, i) => {
    const file = path.join(etc, `${name}.conf`);
    const address = i === 0 ? '10.97.0.1/24, fd97::1/64' : '10.98.0.1/24';
    // An endpoint for the client configs, without which no client can be created.
    const text = ['[Interface]', `PrivateKey = ${generatePrivateKey()}`, `ListenPort = ${51820 + 10 * i}`, `Address = ${address}`, '# PublicEndpoint = 192.0.2.1', ''];
    writeFileSync(file, text.join('\n'), { mode: 0o600 });
    return file;
  });
  const state = path.join(dir, 'state');
  await must(BIN, ['serve', '--set-password', '--state', state], { input: `${PASSWORD}\n` });
  await must('ip', ['netns', 'add', ns]);
  await must('ip', ['link', 'set', 'lo', 'up'], { ns });
  const serve = start(BIN, ['serve', '--listen', `127.0.0.1:${PORT}`, '--state', state, ...confs], { ns, timeoutMs: 0 });
  const url = `http://127.0.0.1:${PORT}`;
  const stop = async () => {
    serve.child.kill('SIGTERM');
    await serve.done;
    killDaemons(ifaces, 'SIGKILL');
    await run('ip', ['netns', 'del', ns]);
    for (const i of ifaces) {
      removeSocket(i);
      rmSync(`/var/run/wiretun/${i}.json`, { force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('the console to answer', async () => (await run('curl', ['-s', `${url}/api/session`], { ns })).code === 0, { timeoutMs: 30_000 });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${serve.output()}`);
  }
  return { url, ns, dir, ifaces, serve, stop };
}

/** Cluster mode: `wiretun serve --store postgres://...` on a real PostgreSQL (its Unix socket is a path, reachable
 * from the namespace), managing two locations made through the API. */
async function pgConsole(): Promise<Console> {
  const pg = await startPostgres();
  const ns = `wtfp-${process.pid}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'wtfp-'));
  const ifaces = ['a', 'b'].map((x) => `wtfp${process.pid % 100000}${x}`);
  await pg.psql("CREATE ROLE console LOGIN PASSWORD 'console-pw' CREATEROLE;\nCREATE DATABASE wiretun OWNER console;");
  const env = { WIRETUN_STORE: pg.url('console', 'console-pw', 'wiretun') };
  await must(BIN, ['serve', '--set-password'], { input: `${PASSWORD}\n`, env });
  await must('ip', ['netns', 'add', ns]);
  await must('ip', ['link', 'set', 'lo', 'up'], { ns });
  const serve = start(BIN, ['serve', '--listen', `127.0.0.1:${PORT}`], { ns, timeoutMs: 0, env });
  const url = `http://127.0.0.1:${PORT}`;
  const stop = async () => {
    serve.child.kill('SIGTERM');
    await serve.done;
    await run('ip', ['netns', 'del', ns]);
    await pg.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  const c: Console = { url, ns, dir, ifaces, serve, stop };
  try {
    await waitFor('the console to answer', async () => (await run('curl', ['-s', `${url}/api/session`], { ns })).code === 0, { timeoutMs: 30_000 });
    const session = await login(c);
    for (const [i, name] of ifaces.entries()) {
      const r = await call(c, 'POST', '/api/interfaces', session, { name, addresses: [`10.${97 + i}.0.1/24`], endpoint: '192.0.2.1' });
      if (r.status !== 201) throw new Error(`cannot create location ${name}: ${JSON.stringify(r.json)}`);
    }
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${serve.output()}`);
  }
  return c;
}

/** One request from inside the console's namespace: status and parsed JSON body. */
async function call(c: Console, method: string, url: string, headers: Record<string, string>, body?: unknown, curlArgs: string[] = []) {
  const args = ['-sS', '-X', method, '-w', '\n%{http_code}', ...curlArgs, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`])];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
  const out = await must('curl', [...args, c.url + url], { ns: c.ns });
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), json: JSON.parse(out.slice(0, cut) || 'null') };
}

/** Logs in: the session cookie and the CSRF token, as headers. */
async function login(c: Console): Promise<Record<string, string>> {
  const jar = path.join(c.dir, 'jar');
  const r = await call(c, 'POST', '/api/login', {}, { password: PASSWORD }, ['-c', jar]);
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.json)}`);
  const cookie = readFileSync(jar, 'utf8').split('\n').find((l) => l.includes('wiretun_session'))!.split('\t');
  return { cookie: `${cookie[5]}=${cookie[6]}`, 'x-csrf-token': r.json.csrfToken };
}

function fuzzSuite(mode: string, startConsole: () => Promise<Console>) {
  describe.skipIf(skip)(`the console API fuzzed by schemathesis: ${mode}`, () => {
    let c: Console | undefined;
    let session: Record<string, string>;
    let clientIds: string[];

    beforeAll(async () => {
      if (!existsSync(SCHEMATHESIS)) throw new Error(`schemathesis is missing at ${SCHEMATHESIS}: .ci/setup installs it`);
      c = await startConsole();
      session = await login(c);
      // One client per interface: with their ids among the values, requests reach real clients.
      clientIds = [];
      for (const iface of c.ifaces) {
        const r = await call(c, 'POST', `/api/interfaces/${iface}/clients`, session, { name: 'seed' });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
        clientIds.push(r.json.id);
      }
    }, 60_000);

    afterAll(async () => c?.stop());

    async function token(scope: 'read' | 'write'): Promise<Record<string, string>> {
      const r = await call(c!, 'POST', '/api/tokens', session, { name: `fuzz-${scope}`, scope });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      return { authorization: `Bearer ${r.json.token}` };
    }

    async function fuzz(name: string, headers: Record<string, string>, exclude: string[] = []) {
      const opts: FuzzOptions = {
        url: c!.url,
        ns: c!.ns,
        dir: path.join(c!.dir, name),
        headers,
        exclude,
        values: { iface: c!.ifaces, id: clientIds },
        // The server checks here what the document cannot say: an address inside the interface's subnets and
        // free, a CIDR, a DNS server or an endpoint that parses, an expiry in the future, the TOTP code of the
        // pending secret. Valid-looking data is refused with 400 there, rightly.
        skipChecks: {
          positive_data_acceptance: [
            'POST /api/interfaces/{iface}/clients',
            'PATCH /api/interfaces/{iface}/clients/{id}',
            'POST /api/interfaces',
            'PATCH /api/interfaces/{iface}',
            'POST /api/totp/enable',
          ],
        },
        maxExamples: 25,
        maxTimeSeconds: FUZZ_SECONDS,
      };
      const out = await fuzzApi(opts);
      const warned = Object.entries(out.warnings).map(([w, ops]) => `${w} on ${ops.length}`);
      console.log(`schemathesis, ${name}: ${out.generated} test cases on ${out.tested} operations; warnings: ${warned.join(', ') || 'none'}`);
      expect(out.tested, out.output).toBeGreaterThan(20);
      expect(out.failures, out.output).toEqual([]);
      expect(out.errors, out.output).toEqual([]);
      expect(out.exitCode, out.output).toBe(0);
      expect(c!.serve.child.exitCode, c!.serve.output()).toBeNull();
    }

    const timeout = (FUZZ_SECONDS + 90) * 1000;
    it('with a read token', async () => fuzz('read', await token('read')), timeout);
    it('with a write token', async () => fuzz('write', await token('write')), timeout);
    // Last, as it may revoke the tokens (DELETE /api/tokens/{tokenId}). POST /api/logout would end the session
    // the rest of the run stands on; a password change could not (it needs the current password, and ends only
    // the other sessions), so it is fuzzed.
    it('with an admin session', async () => fuzz('session', session, ['POST /api/logout']), timeout);

    it('is still up and answering afterwards', async () => {
      expect((await call(c!, 'GET', '/api/session', session)).status).toBe(200);
      expect((await call(c!, 'GET', '/api/interfaces', session)).status).toBe(200);
      expect(c!.serve.child.exitCode, c!.serve.output()).toBeNull();
    });
  });
}

fuzzSuite('config files and SQLite', fileConsole);
fuzzSuite('PostgreSQL (cluster mode)', pgConsole);
