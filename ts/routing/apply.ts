// The apply half of `wiretun up` / `down`: gathers facts, plans (plan.ts / plan-down.ts), prints each op's
// `[#]` line and runs it. A failed `up` is rolled back completely; `down` keeps going past failures so that one
// broken step never leaves the rest (rules, firewall, DNS) behind, and works from the recorded state when the
// daemon is dead.
import { formatIp, maskCidr, parseCidr, Cidr } from '../config/ip';
import { formatSet } from '../uapi/codec';
import { WgQuickConfig } from '../config/wgquick';
import { DownFacts, UpFacts } from './facts';
import { gatherDownFacts, gatherLinkLocal6, gatherUpFacts, linkExists, LiveDevice, parseLiveDevice, readSysctl, resolveEndpoints, System } from './gather';
import { PlanOp, printed, runOp, runWithFd } from './ops';
import { planUp } from './plan';
import { planDown, planRollback, UpProgress } from './plan-down';
import { failClosedRemoval, withFailClosed } from './fail-closed';
import { MasqueradeState, UpState, readState, removeState, writeState } from './state';

/** The WireGuard side: the daemon and its UAPI socket. */
export interface Control {
  /** Starts the userspace daemon for `iface`; resolves once it reports ready (exit 0 of the launcher). */
  startDaemon(iface: string): Promise<void>;
  set(iface: string, body: string): Promise<void>;
  get(iface: string): Promise<string>;
  /** How the daemon is printed in `[#] PROG IF`. */
  daemonName: string;
}

export interface ApplyEnv {
  sys: System;
  control: Control;
  /** Where `[#]` lines and warnings go (stderr in the CLI). */
  log(line: string): void;
  /** Directory of the state files (tests use a temporary one). */
  stateDir?: string;
  /** Checked between ops: true once the user asked to stop (SIGINT/SIGTERM); `up` then rolls back. */
  interrupted?(): boolean;
  /** SaveConfig's writer, given the running state; set by the CLI. */
  saveConfig?(iface: string): Promise<void>;
}

export interface UpOptions {
  configPath: string;
  /** `--masquerade [OUT_IFACE]`: '' = any outgoing interface but the tunnel. */
  masquerade?: string;
}

/** A failure that carries its own user-facing message. */
export class ApplyError extends Error {
  override name = 'ApplyError';
}

function numericEndpoint(endpoint: string, resolved: Record<string, string>): string {
  const bracket = endpoint.startsWith('[');
  const cut = bracket ? endpoint.indexOf(']') : endpoint.lastIndexOf(':');
  const host = bracket ? endpoint.slice(1, cut) : endpoint.slice(0, cut);
  const port = endpoint.slice(endpoint.lastIndexOf(':') + 1);
  const address = resolved[host] ?? host;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The UAPI `set` body equivalent to `wg setconf`: the config's device update (which replaces every peer and
 * every peer's allowed IPs) with host names replaced by the addresses they resolved to. */
export function uapiConfigBody(config: WgQuickConfig, resolved: Record<string, string>): string {
  const d = config.device;
  const peers = d.peers.map((p) => (p.endpoint === undefined ? p : { ...p, endpoint: numericEndpoint(p.endpoint, resolved) }));
  return formatSet({ ...d, peers });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The table of the `ip rule add not fwmark T table T` the plan adds, if any. */
export function policyTable(ops: PlanOp[]): number | undefined {
  for (const op of ops) {
    if (op.kind === 'run' && op.argv[2] === 'rule' && op.argv[4] === 'not') return Number(op.argv[6]);
  }
  return undefined;
}

// --- masquerade -------------------------------------------------------------------------------------------

export function masqTable(iface: string): string {
  return `wiretun-masq-${iface}`;
}

/** The tunnel's subnets per family (the Address entries with host bits cleared), each once. */
export function tunnelSubnets(config: WgQuickConfig): Map<4 | 6, string[]> {
  const out = new Map<4 | 6, string[]>();
  for (const a of config.addresses) {
    const c = maskCidr(parseCidr(a) as Cidr);
    const list = out.get(c.family) ?? [];
    const text = `${formatIp(c)}/${c.prefix}`;
    if (!list.includes(text)) list.push(text);
    out.set(c.family, list);
  }
  return out;
}

/** nft script adding a source-NAT table for the tunnel's subnets, leaving by OUT_IFACE (or anything but IF). */
export function masqueradeScript(family: 4 | 6, iface: string, subnets: string[], outIface: string): string {
  const pf = family === 4 ? 'ip' : 'ip6';
  const t = `${pf} ${masqTable(iface)}`;
  const out = outIface ? `oifname "${outIface}"` : `oifname != "${iface}"`;
  let s = `add table ${t}\nadd chain ${t} postrouting { type nat hook postrouting priority 100; }\n`;
  for (const n of subnets) s += `add rule ${t} postrouting ${pf} saddr ${n} ${out} masquerade\n`;
  return s;
}

const FORWARDING: Record<4 | 6, string> = { 4: 'net.ipv4.ip_forward', 6: 'net.ipv6.conf.all.forwarding' };

/** The ops for --masquerade, and what down must undo (forwarding only where it was off). */
async function masqueradeOps(env: ApplyEnv, config: WgQuickConfig, iface: string, outIface: string) {
  const ops: PlanOp[] = [];
  const state: MasqueradeState = { nftTables: [], sysctls: [] };
  for (const [fam, subnets] of tunnelSubnets(config)) {
    const key = FORWARDING[fam];
    const previous = await readSysctl(env.sys, key);
    if (previous !== '1') {
      ops.push(runOp(['sysctl', '-q', `${key}=1`]));
      state.sysctls.push({ key, previous: previous ?? '0' });
    }
    ops.push(runWithFd(['nft', '-f'], masqueradeScript(fam, iface, subnets, outIface)));
    state.nftTables.push(`${fam === 4 ? 'ip' : 'ip6'} ${masqTable(iface)}`);
  }
  if (ops.length === 0) throw new ApplyError('--masquerade needs an Address in the config to know the tunnel subnet');
  return { ops, state };
}

function unmasqueradeOps(m: MasqueradeState, nftTables: string[]): PlanOp[] {
  const ops: PlanOp[] = [];
  const present = m.nftTables.filter((t) => nftTables.some((l) => l.trim() === `table ${t}`));
  if (present.length) ops.push(runWithFd(['nft', '-f'], present.map((t) => `delete table ${t}\n`).join('')));
  for (const s of m.sysctls) ops.push(runOp(['sysctl', '-q', `${s.key}=${s.previous}`]));
  return ops;
}

// --- running ops ------------------------------------------------------------------------------------------

interface Runner {
  env: ApplyEnv;
  iface: string;
  resolved: Record<string, string>;
  config: WgQuickConfig;
  dnsTool: 'resolvconf' | 'resolvectl';
}

/** resolvconf's `-a` payload or `-d` as resolvectl commands, for systems with systemd-resolved only. */
function resolvectlFor(op: { argv: string[]; stdin?: string }, iface: string): string[][] {
  if (op.argv[1] === '-d') return [['resolvectl', 'revert', iface]];
  const words = (op.stdin ?? '').split('\n').map((l) => l.split(' '));
  const servers = words.filter((w) => w[0] === 'nameserver').map((w) => w[1]);
  const search = words.filter((w) => w[0] === 'search').flatMap((w) => w.slice(1));
  return [
    ['resolvectl', 'dns', iface, ...servers],
    ['resolvectl', 'domain', iface, '~.', ...search],
    ['resolvectl', 'default-route', iface, 'true'],
  ];
}

async function runCommand(r: Runner, op: Extract<PlanOp, { kind: 'run' }>): Promise<void> {
  if (op.argv[0] === 'resolvconf' && r.dnsTool === 'resolvectl') {
    // A deleted link takes its resolved settings with it.
    if (op.argv[1] === '-d' && !(await linkExists(r.env.sys, r.iface))) return;
    for (const argv of resolvectlFor(op, r.iface)) {
      r.env.log(printed(argv));
      await r.env.sys.run(argv);
    }
    return;
  }
  r.env.log(op.line);
  await r.env.sys.run(op.argv, op.stdin);
}

async function runOpOnce(r: Runner, op: PlanOp): Promise<void> {
  const { env, iface } = r;
  if (op.kind === 'run') return runCommand(r, op);
  env.log(op.line);
  switch (op.kind) {
    case 'hook':
      return env.sys.hook(op.command);
    case 'add-interface':
      return env.control.startDaemon(iface);
    case 'set-config':
      return env.control.set(iface, uapiConfigBody(r.config, r.resolved));
    case 'set-fwmark':
      return env.control.set(iface, `fwmark=${op.fwmark}\n`);
    case 'delete-interface':
      return env.sys.run(['ip', 'link', 'delete', 'dev', iface]);
    case 'save-config':
      if (!env.saveConfig) throw new ApplyError('SaveConfig is not available here');
      return env.saveConfig(iface);
  }
}

async function dnsTool(sys: System): Promise<'resolvconf' | 'resolvectl'> {
  if (await sys.has('resolvconf')) return 'resolvconf';
  return (await sys.has('resolvectl')) ? 'resolvectl' : 'resolvconf';
}

/** Runs ops best-effort: every op is tried; failures are reported and counted. */
async function runAll(r: Runner, ops: PlanOp[]): Promise<number> {
  let failed = 0;
  for (const op of ops) {
    try {
      await runOpOnce(r, op);
    } catch (err) {
      failed++;
      r.env.log(`wiretun: ${op.line.replace(/^\[#\] /, '')}: ${errorText(err)}`);
    }
  }
  return failed;
}


// --- up -----------------------------------------------------------------------------------------------------

function allAllowedIps(config: WgQuickConfig): string[] {
  return config.device.peers.flatMap((p) => p.allowedIps);
}

/** --masquerade's ops go right before the PostUp hooks, so hooks see the finished set-up. */
function withExtra(ops: PlanOp[], extra: PlanOp[]): PlanOp[] {
  const at = ops.findIndex((op) => op.kind === 'hook' && op.phase === 'PostUp');
  const i = at < 0 ? ops.length : at;
  return [...ops.slice(0, i), ...extra, ...ops.slice(i)];
}

function isLinkUp(op: PlanOp): boolean {
  return op.kind === 'run' && op.argv[0] === 'ip' && op.argv[1] === 'link' && op.argv.includes('up');
}

function isFirewall(op: PlanOp): boolean {
  return op.kind === 'run' && ['nft', 'iptables-restore', 'ip6tables-restore'].includes(op.argv[0]);
}

interface UpRun {
  r: Runner;
  config: WgQuickConfig;
  iface: string;
  facts: UpFacts;
  extra: PlanOp[];
  state: UpState;
  progress: UpProgress;
  /** Whether the daemon was started: only then is there a device whose fwmark/peers the rollback can trust. */
  started: boolean;
}

/** The firewall rules name the link's own IPv6 link-local addresses, known only now: plan again with them. */
async function replanWithLinkLocal(u: UpRun, done: PlanOp[]): Promise<PlanOp[]> {
  const linkLocal6 = await gatherLinkLocal6(u.r.env.sys, u.iface);
  const plan = planUp(u.config, u.iface, { ...u.facts, linkLocal6 }, { userspace: u.r.env.control.daemonName });
  const ops = withExtra(withFailClosed(plan.ops, u.iface, u.state.table), u.extra);
  const same = done.every((op, i) => ops[i]?.line === op.line);
  if (!same) throw new ApplyError('internal error: the plan changed once the link was up');
  return ops;
}

async function executeUp(u: UpRun, initial: PlanOp[]): Promise<void> {
  const { env } = u.r;
  let ops = initial;
  for (let i = 0; i < ops.length; i++) {
    if (env.interrupted?.()) throw new ApplyError('interrupted');
    const op = ops[i];
    if (op.kind === 'add-interface') u.started = true;
    try {
      await runOpOnce(u.r, op);
    } catch (err) {
      throw new ApplyError(`\`${op.line.replace(/^\[#\] /, '')}' failed: ${errorText(err)}`);
    }
    // Like wg-quick's HAVE_SET_* flags, set once the step worked: nft and iptables-restore apply a script
    // all or nothing, and undoing a resolvconf that never ran would only fail again.
    if (op.kind === 'run' && op.argv[0] === 'resolvconf') u.progress.dnsSet = true;
    if (isFirewall(op)) u.progress.firewallSet = true;
    if (isLinkUp(op) && u.state.table !== undefined) ops = await replanWithLinkLocal(u, ops.slice(0, i + 1));
  }
}

/** wg-quick's del_if, plus --masquerade's table and sysctls; every step is tried. */
async function rollback(u: UpRun): Promise<number> {
  const live: LiveDevice | undefined = u.started ? { fwmark: u.state.table ?? 0, allowedIps: u.state.allowedIps } : undefined;
  const facts = await gatherDownFacts(u.r.env.sys, u.iface, live);
  const plan = planRollback(u.config, u.iface, facts, u.progress);
  const undoMasq = u.state.masquerade ? unmasqueradeOps(u.state.masquerade, facts.nftTables) : [];
  const undoFailClosed = await failClosedRemoval(u.r.env.sys, [u.state.table]);
  const failed = await runAll(u.r, [...undoMasq, ...plan.ops, ...undoFailClosed]);
  if (failed === 0) await removeState(u.iface, u.r.env.stateDir);
  return failed;
}

/** `wiretun up`: everything or nothing. Throws ApplyError (already rolled back) on failure. */
export async function applyUp(env: ApplyEnv, config: WgQuickConfig, iface: string, options: UpOptions): Promise<void> {
  if (await linkExists(env.sys, iface)) throw new ApplyError(`\`${iface}' already exists`);
  // A dead daemon's rules and fail-closed routes are still in place: a second set would fight with them.
  if ((await readState(iface, env.stateDir)).state) {
    throw new ApplyError(`\`${iface}' was brought up and never taken down (its daemon is gone): run \`wiretun down ${iface}' first`);
  }
  const resolved = await resolveEndpoints(env.sys, config);
  const facts = await gatherUpFacts(env.sys, config, resolved);
  const plan = planUp(config, iface, facts, { userspace: env.control.daemonName });
  for (const w of plan.warnings) env.log(`wiretun: warning: ${w}`);
  const tool = await dnsTool(env.sys);
  const masq = options.masquerade === undefined ? undefined : await masqueradeOps(env, config, iface, options.masquerade);
  const table = policyTable(plan.ops);
  const state: UpState = {
    version: 1,
    iface,
    configPath: options.configPath,
    table,
    allowedIps: allAllowedIps(config),
    dns: config.dns.length ? { tool, name: tool === 'resolvconf' ? `${facts.resolvconfPrefix}${iface}` : iface } : undefined,
    firewall: table === undefined ? undefined : facts.hasNft ? 'nft' : 'iptables',
    masquerade: masq?.state,
  };
  // Recorded before anything changes: an `up` killed half way still leaves `down` what it needs.
  await writeState(state, env.stateDir);
  const r: Runner = { env, iface, resolved, config, dnsTool: tool };
  const u: UpRun = { r, config, iface, facts, extra: masq?.ops ?? [], state, progress: { dnsSet: false, firewallSet: false }, started: false };
  try {
    await executeUp(u, withExtra(withFailClosed(plan.ops, iface, table), u.extra));
  } catch (err) {
    env.log(`wiretun: ${errorText(err)}`);
    env.log(`wiretun: rolling back ${iface}`);
    const failed = await rollback(u);
    const after = failed ? `rollback left ${failed} step(s) undone (see above)` : 'everything it changed was undone';
    throw new ApplyError(`up ${iface} failed; ${after}`);
  }
}

// --- down ---------------------------------------------------------------------------------------------------

async function askDaemon(env: ApplyEnv, iface: string): Promise<LiveDevice | undefined> {
  try {
    return parseLiveDevice(await env.control.get(iface));
  } catch {
    return undefined;
  }
}

/** The down plan; with a dead daemon, the device's fwmark and peers come from what `up` recorded. */
async function downOps(env: ApplyEnv, config: WgQuickConfig, iface: string, state: UpState | undefined, live?: LiveDevice) {
  const known = live ?? (state ? { fwmark: state.table ?? 0, allowedIps: state.allowedIps } : undefined);
  const facts: DownFacts = { ...(await gatherDownFacts(env.sys, iface, known)), recordedTable: state?.table };
  // The DNS entry `up` made is removed even if the file lost its DNS line since.
  const planning = state?.dns && !config.dns.length ? { ...config, dns: ['0.0.0.0'] } : config;
  const plan = planDown(planning, iface, facts);
  for (const w of plan.warnings) env.log(`wiretun: warning: ${w}`);
  let ops = plan.ops;
  if (!live && ops.some((op) => op.kind === 'save-config')) {
    env.log(`wiretun: warning: SaveConfig is set but ${iface}'s daemon is not answering: the file is kept as it is`);
    ops = ops.filter((op) => op.kind !== 'save-config');
  }
  const undoMasq = state?.masquerade ? unmasqueradeOps(state.masquerade, facts.nftTables) : [];
  const undoFailClosed = await failClosedRemoval(env.sys, [state?.table, live?.fwmark]);
  const at = ops.findIndex((op) => op.kind === 'hook' && op.phase === 'PostDown');
  const i = at < 0 ? ops.length : at;
  return [...ops.slice(0, i), ...undoMasq, ...undoFailClosed, ...ops.slice(i)];
}

/**
 * `wiretun down`: PreDown hooks must succeed (nothing is changed otherwise, like wg-quick); after that every
 * step is tried even when one fails. Returns the number of failed steps; the state file goes only when 0.
 */
export async function applyDown(env: ApplyEnv, config: WgQuickConfig, iface: string): Promise<number> {
  const { state, problem } = await readState(iface, env.stateDir);
  if (problem) env.log(`wiretun: warning: ${problem}`);
  const live = await askDaemon(env, iface);
  if (!live && !state) {
    const why = (await linkExists(env.sys, iface)) ? 'it does not answer on its UAPI socket' : 'it does not exist';
    throw new ApplyError(`\`${iface}' is not a WireGuard interface (${why}) and wiretun recorded no state for it`);
  }
  if (!live) env.log(`wiretun: ${iface}'s daemon is gone: cleaning up from the state recorded by \`up\``);
  const dns = state?.dns?.tool ?? (await dnsTool(env.sys));
  const r: Runner = { env, iface, resolved: {}, config, dnsTool: dns };
  const ops = await downOps(env, config, iface, state, live);
  const preDown = ops.filter((op) => op.kind === 'hook' && op.phase === 'PreDown');
  for (const op of preDown) {
    try {
      await runOpOnce(r, op);
    } catch (err) {
      throw new ApplyError(`PreDown \`${op.line.replace(/^\[#\] /, '')}' failed, ${iface} is left up: ${errorText(err)}`);
    }
  }
  const failed = await runAll(r, ops.slice(preDown.length));
  if (failed === 0) await removeState(iface, env.stateDir);
  return failed;
}
