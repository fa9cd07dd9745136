// schemathesis (PyPI, pinned and installed by .ci/setup through .ci/lib/toolchains.sh) against a running API: it
// generates requests from the API's own OpenAPI document and checks every answer against it. fuzzApi() runs it
// once for one principal and returns what its JSON report says. Not a test file itself.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../ts/proc';
import { executable } from './tools';

export const SCHEMATHESIS =
  process.env.WIRETUN_SCHEMATHESIS ?? path.join(process.env.WIRETUN_TOOLCHAINS ?? '/var/cache/wiretun-platforms', 'schemathesis', 'bin', 'schemathesis');

/** Why a suite that needs schemathesis (and root, for its namespace) cannot run here, or undefined. In CI
 * (CI=true) a missing schemathesis is a broken set-up, not a reason to skip: the suite then fails instead. */
export function fuzzSkipReason(file: string): string | undefined {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'needs root (a network namespace for the console)';
  else if (!executable(SCHEMATHESIS) && process.env.CI !== 'true') {
    reason = `needs schemathesis at ${SCHEMATHESIS} (run .ci/setup, or set WIRETUN_SCHEMATHESIS)`;
  }
  if (reason) console.warn(`\n*** SKIPPED: ${file} ${reason} ***\n*** The API fuzz did NOT run. ***\n`);
  return reason;
}

export interface FuzzOptions {
  /** The API's origin, `http://127.0.0.1:PORT`; the document is URL/api/openapi.json. */
  url: string;
  /** Run schemathesis (and the document's download) inside this network namespace. */
  ns?: string;
  /** Where the config, the document and the report go (one run per directory). */
  dir: string;
  /** The principal's credentials as a client sends them (`authorization`, `cookie`, `x-csrf-token`). They fetch
   * the document, then go to schemathesis per security scheme the document declares, so that its ignored_auth
   * check knows what to take away; what no scheme claims is sent as a plain header. */
  headers: Record<string, string>;
  /** Operations not run at all, as `METHOD /path`. */
  exclude?: string[];
  /** Checks not run on some operations (`METHOD /path`): where the server checks what the document cannot say. */
  skipChecks?: Record<string, string[]>;
  /** Real values for path parameters (name → values), used in `probability` of the requests: without them
   * nearly every request would ask for a resource that does not exist. */
  values?: Record<string, string[]>;
  probability?: number;
  /** Examples per operation and round, and the time the whole run takes: it fuzzes until this is spent. */
  maxExamples: number;
  maxTimeSeconds: number;
  seed?: number;
}

export interface FuzzOutcome {
  exitCode: number | null;
  /** Failed checks: their code (ST...), title and the operations that failed them. */
  failures: { code: string; title: string; operations: string[] }[];
  /** Requests that could not be made or answered (a refused connection, a timeout, a broken document). */
  errors: unknown[];
  /** What schemathesis warns about (missing_test_data, validation_mismatch...): operations per warning. */
  warnings: Record<string, string[]>;
  /** Test cases generated, and operations tested. */
  generated: number;
  tested: number;
  /** schemathesis' own report, with a curl line per failure: for the assertion message. */
  output: string;
}

interface SecurityScheme {
  type: string;
  in?: string;
  name?: string;
  scheme?: string;
}

const toml = (v: unknown) => JSON.stringify(v); // JSON strings and arrays of strings are valid TOML

/** The credentials in `headers`, per security scheme of the document, and the headers no scheme claims. Every
 * bearer scheme gets the bearer token: the document cannot say which one a token is for. */
export function schemeCredentials(schemes: Record<string, SecurityScheme>, headers: Record<string, string>) {
  const rest = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const cookies = new Map<string, string>();
  for (const c of (rest.get('cookie') ?? '').split(';')) {
    const eq = c.indexOf('=');
    if (eq > 0) cookies.set(c.slice(0, eq).trim(), c.slice(eq + 1).trim());
  }
  const bearer = /^Bearer (.+)$/i.exec(rest.get('authorization') ?? '')?.[1];
  const auth: Record<string, Record<string, string>> = {};
  for (const [scheme, s] of Object.entries(schemes)) {
    const key = s.type === 'apiKey' && s.in === 'header' ? rest.get(s.name!.toLowerCase()) : s.type === 'apiKey' && s.in === 'cookie' ? cookies.get(s.name!) : undefined;
    if (key !== undefined) auth[scheme] = { api_key: key };
    if (s.type === 'http' && s.scheme?.toLowerCase() === 'bearer' && bearer) auth[scheme] = { bearer };
    if (s.type === 'apiKey' && s.in === 'header') rest.delete(s.name!.toLowerCase());
    if (s.type === 'apiKey' && s.in === 'cookie') cookies.delete(s.name!);
    if (s.type === 'http' && bearer) rest.delete('authorization');
  }
  rest.delete('cookie');
  if (cookies.size) rest.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
  return { auth, headers: Object.fromEntries(rest) };
}

function configFile(opts: FuzzOptions, creds: ReturnType<typeof schemeCredentials>): string {
  // Every check, here rather than as --checks all: a check named on the command line would override the
  // per-operation exceptions below.
  const lines: string[] = ['[checks]', 'enabled = true', ''];
  // Its cache (failures to replay first next time) and hypothesis' database of examples would land in the
  // current directory, the repository: every run starts afresh.
  lines.push('[cache]', 'enabled = false', '', '[generation]', 'database = "none"', '');
  const headers = Object.entries(creds.headers);
  if (headers.length) lines.push('[headers]', ...headers.map(([k, v]) => `${toml(k)} = ${toml(v)}`), '');
  for (const [name, values] of Object.entries(opts.values ?? {})) lines.push(`[dictionaries.${name}]`, `values = ${toml(values)}`, '');
  if (opts.values) {
    lines.push('[parameters]');
    for (const name of Object.keys(opts.values)) lines.push(`${toml(`path.${name}`)} = { dictionary = ${toml(name)}, probability = ${opts.probability ?? 0.8} }`);
    lines.push('');
  }
  for (const [scheme, cred] of Object.entries(creds.auth)) {
    lines.push(`[auth.openapi.${scheme}]`, ...Object.entries(cred).map(([k, v]) => `${k} = ${toml(v)}`), '');
  }
  if (opts.exclude?.length) lines.push('[[operations]]', `include-name = ${toml(opts.exclude)}`, 'enabled = false', '');
  for (const [check, ops] of Object.entries(opts.skipChecks ?? {})) {
    lines.push('[[operations]]', `include-name = ${toml(ops)}`, `checks.${check}.enabled = false`, '');
  }
  return lines.join('\n');
}

/** Fetches the document with the principal's credentials (it is not public) and runs schemathesis on it with
 * every check it has (but `skipChecks`), against `url`. */
export async function fuzzApi(opts: FuzzOptions): Promise<FuzzOutcome> {
  mkdirSync(opts.dir, { recursive: true });
  const doc = path.join(opts.dir, 'openapi.json');
  const auth = Object.entries(opts.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const got = await run('curl', ['-sS', '--fail-with-body', '-o', doc, ...auth, `${opts.url}/api/openapi.json`], { ns: opts.ns });
  if (got.code !== 0) throw new Error(`cannot fetch ${opts.url}/api/openapi.json: ${got.stderr}${readFileSync(doc, 'utf8')}`);
  const creds = schemeCredentials(JSON.parse(readFileSync(doc, 'utf8')).components?.securitySchemes ?? {}, opts.headers);
  const config = path.join(opts.dir, 'schemathesis.toml');
  writeFileSync(config, configFile(opts, creds), { mode: 0o600 });
  const reports = path.join(opts.dir, 'report');
  const args = ['--config-file', config, 'run', doc, '--url', opts.url, '--max-examples', String(opts.maxExamples)];
  args.push('--max-time', String(opts.maxTimeSeconds), '--no-color', '--report', 'json', '--report-dir', reports);
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));
  // The run stops itself at --max-time; the limit here only catches a wedged one.
  const env = { HYPOTHESIS_STORAGE_DIRECTORY: path.join(opts.dir, 'hypothesis') }; // its other caches
  const r = await run(SCHEMATHESIS, args, { ns: opts.ns, env, timeoutMs: (opts.maxTimeSeconds + 60) * 1000 });
  const file = readdirSync(reports).find((f) => f.endsWith('.json'));
  if (!file) throw new Error(`schemathesis left no report (${r.timedOut ? 'timed out' : `exit ${r.code}`}):\n${r.stderr}\n${r.stdout}`);
  const report = JSON.parse(readFileSync(path.join(reports, file), 'utf8'));
  return {
    exitCode: r.code,
    failures: (report.failures ?? []).map((f: { code: string; title: string; operations: string[] }) => ({ code: f.code, title: f.title, operations: f.operations })),
    errors: report.errors ?? [],
    warnings: Object.fromEntries(Object.entries(report.warnings ?? {}).filter(([, ops]) => Array.isArray(ops) && ops.length > 0)) as Record<string, string[]>,
    generated: report.test_cases?.generated ?? 0,
    tested: report.operations?.tested ?? 0,
    output: `${r.stdout}\n${r.stderr}`,
  };
}
