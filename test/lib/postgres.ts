// A real PostgreSQL for the tests: Debian's server binaries, a cluster made by initdb as the `postgres` user
// in a fresh temporary directory (initdb refuses root), listening on a Unix socket in that directory (reachable
// from every network namespace, since it is a file) and on 127.0.0.1. Password authentication everywhere, so
// that roles mean something. Each test file starts its own and stops it; nothing outside the directory is
// touched.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { must, run } from '../netns/lib/proc';

const BIN = '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(file: string): string | undefined {
  let why: string | undefined;
  if (process.getuid?.() !== 0) why = 'they need root (to run initdb as the postgres user)';
  else if (!existsSync(`${BIN}/initdb`)) why = `Debian's PostgreSQL 15 is not installed (${BIN}/initdb); .ci/setup installs it`;
  else {
    try {
      userInfo();
    } catch {
      why = 'no user database';
    }
  }
  if (why) process.stderr.write(`\n*** SKIPPED ${file}: ${why} ***\n\n`);
  return why;
}

export interface PgServer {
  dir: string;
  /** The directory holding the server's Unix socket. */
  socketDir: string;
  port: number;
  superPassword: string;
  /** The server certificate (self-signed, CN and SAN localhost): a root to trust with sslrootcert. */
  certFile: string;
  /** A libpq-style URL for USER on DB over the Unix socket (`?host=DIR`), or over TCP with `tcp`. */
  url(user: string, password: string, db?: string, tcp?: boolean): string;
  /** Runs SQL as the superuser with psql, statement by statement; returns its output (unaligned, tuples only). */
  psql(sql: string, db?: string): Promise<string>;
  start(): Promise<void>;
  /** A fast shutdown: every connection is cut, as a crash or failover would. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

async function asPostgres(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return must('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeoutMs });
}

export async function startPostgres(port = 20000 + (process.pid % 20000)): Promise<PgServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wiretun-pg-'));
  const data = path.join(dir, 'data');
  const superPassword = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${superPassword}\n`);
  const pg = (await must('id', ['-u', 'postgres'])).trim();
  chownSync(dir, Number(pg), -1);
  chownSync(pwfile, Number(pg), -1);
  chmodSync(dir, 0o755);
  await asPostgres(`${BIN}/initdb`, ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
  rmSync(pwfile);
  // TLS on TCP, with a self-signed certificate for "localhost" that tests can trust through sslrootcert.
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert]);
  chownSync(key, Number(pg), -1);
  chmodSync(key, 0o600);
  const tls = `-c ssl=on -c ssl_cert_file=${cert} -c ssl_key_file=${key}`;
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c max_connections=200 ${tls}`;
  const server: PgServer = {
    dir,
    socketDir: dir,
    port,
    superPassword,
    certFile: cert,
    url: (user, password, db = 'postgres', tcp = false) =>
      tcp
        ? `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`
        : `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@localhost:${port}/${db}?host=${encodeURIComponent(dir)}`,
    psql: async (sql, db = 'postgres') => {
      const out = await must('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-f', '-'], {
        input: sql,
        env: { PGPASSWORD: superPassword },
      });
      return out.trim();
    },
    start: async () => {
      await asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', path.join(dir, 'log'), '-o', opts, '-w', '-t', '30', 'start']);
    },
    stop: async () => {
      await asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    destroy: async () => {
      await run('runuser', ['-u', 'postgres', '--', `${BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop'], { timeoutMs: 30_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
