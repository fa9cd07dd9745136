// The `down` plan: what wg-quick's cmd_down does, in order: PreDown hooks, SaveConfig, remove the policy
// routing rules (when the interface had a default route through its own table), delete the interface, remove
// DNS, remove the firewall tables/rules, PostDown hooks.
// Unlike wg-quick, the plan does not depend on the interface still answering: when its daemon is gone, the
// table comes from what `up` recorded (or the config's FwMark) and the default-route test from the config, so
// rules, firewall and DNS are still cleaned up.
import { Cidr, parseCidr } from '../config/ip';
import { WgQuickConfig } from '../config/wgquick';
import { DownFacts } from './facts';
import { iptablesDeleteScript, nftDeleteScript } from './firewall';
import { Plan, PlanOp, hookOps, printed, runOp, runWithFd } from './ops';

export function planDown(config: WgQuickConfig, iface: string, facts: DownFacts): Plan {
  const ops: PlanOp[] = [];
  const warnings: string[] = [];
  ops.push(...hookOps('PreDown', config.preDown, iface));
  if (config.saveConfig) {
    if (facts.fwmark === undefined && facts.allowedIps === undefined) {
      warnings.push(`SaveConfig is set but ${iface} is not running: there is no state to save, the file is kept`);
    } else {
      ops.push({ kind: 'save-config', line: printed(['wg', 'showconf', iface]) });
    }
  }
  ops.push(...ruleDeletions(config, iface, facts, warnings));
  if (facts.interfaceExists) ops.push({ kind: 'delete-interface', line: printed(['ip', 'link', 'delete', 'dev', iface]) });
  if (config.dns.length) ops.push(runOp(['resolvconf', '-d', `${facts.resolvconfPrefix}${iface}`, '-f']));
  ops.push(...firewallRemoval(iface, facts));
  ops.push(...hookOps('PostDown', config.postDown, iface));
  return { ops, warnings };
}

function hasDefaultRoute(allowedIps: string[]): boolean {
  return allowedIps.some((a) => (parseCidr(a) as Cidr | undefined)?.prefix === 0);
}

/** The table whose rules to remove, or undefined when wg-quick would not touch rules. */
function ruleTable(config: WgQuickConfig, iface: string, facts: DownFacts, warnings: string[]): number | undefined {
  if (config.table !== undefined && config.table !== 'auto') return undefined;
  const live = facts.fwmark !== undefined || facts.allowedIps !== undefined;
  const allowed = facts.allowedIps ?? config.device.peers.flatMap((p) => p.allowedIps);
  if (!hasDefaultRoute(allowed)) return undefined;
  const configMark = config.device.fwmark ? config.device.fwmark : undefined;
  const table = live ? facts.fwmark || undefined : (facts.recordedTable ?? configMark);
  if (table === undefined && !live) {
    warnings.push(`${iface} is gone and no table was recorded for its default route: its ip rules are left in place`);
  }
  return table;
}

/** wg-quick deletes while `ip rule show` still mentions the table; one delete per matching rule. */
function ruleDeletions(config: WgQuickConfig, iface: string, facts: DownFacts, warnings: string[]): PlanOp[] {
  const table = ruleTable(config, iface, facts, warnings);
  if (table === undefined) return [];
  const ops: PlanOp[] = [];
  const lookup = new RegExp(`lookup ${table}(\\s|$)`);
  const suppress = 'from all lookup main suppress_prefixlength 0';
  for (const [fam, rules] of [['-4', facts.rules4], ['-6', facts.rules6]] as const) {
    for (const r of rules) if (lookup.test(r)) ops.push(runOp(['ip', fam, 'rule', 'delete', 'table', String(table)]));
    for (const r of rules) {
      if (r.includes(suppress)) ops.push(runOp(['ip', fam, 'rule', 'delete', 'table', 'main', 'suppress_prefixlength', '0']));
    }
  }
  return ops;
}

function firewallRemoval(iface: string, facts: DownFacts): PlanOp[] {
  const ops: PlanOp[] = [];
  if (facts.hasNft) {
    const script = nftDeleteScript(iface, facts.nftTables);
    if (script) ops.push(runWithFd(['nft', '-f'], script));
  }
  const saves: [string, string | undefined][] = [
    ['iptables-restore', facts.iptablesSave4],
    ['ip6tables-restore', facts.iptablesSave6],
  ];
  for (const [tool, save] of saves) {
    const script = save === undefined ? '' : iptablesDeleteScript(iface, save);
    if (script) ops.push(runOp([tool, '-n'], script));
  }
  return ops;
}

/** How far a failed `up` got, as wg-quick tracks it (HAVE_SET_DNS, HAVE_SET_FIREWALL). */
export interface UpProgress {
  dnsSet: boolean;
  firewallSet: boolean;
}

/**
 * What wg-quick's del_if does when `up` fails part way (its EXIT trap): undo DNS and firewall if they were set,
 * the policy rules, then the interface. No hooks run and SaveConfig is ignored.
 */
export function planRollback(config: WgQuickConfig, iface: string, facts: DownFacts, progress: UpProgress): Plan {
  const ops: PlanOp[] = [];
  const warnings: string[] = [];
  if (progress.dnsSet && config.dns.length) {
    ops.push(runOp(['resolvconf', '-d', `${facts.resolvconfPrefix}${iface}`, '-f']));
  }
  if (progress.firewallSet) ops.push(...firewallRemoval(iface, facts));
  ops.push(...ruleDeletions(config, iface, facts, warnings));
  if (facts.interfaceExists) ops.push({ kind: 'delete-interface', line: printed(['ip', 'link', 'delete', 'dev', iface]) });
  return { ops, warnings };
}
