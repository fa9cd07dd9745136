// Plans compared with the real wg-quick (v1.0.20210914): test/fixtures/configs/derive.sh ran `wg-quick up` and
// `down` for each valid fixture in a network namespace (wireguard-go fallback) and recorded the printed lines,
// the payloads piped to nft/resolvconf, and the system facts before each run.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/parse';
import { DownFacts, UpFacts } from '../../ts/routing/facts';
import { PlanOp } from '../../ts/routing/ops';
import { planUp } from '../../ts/routing/plan';
import { planDown } from '../../ts/routing/plan-down';

const DIR = path.join(__dirname, '../fixtures/configs/valid');
const names = readdirSync(DIR)
  .filter((f) => f.endsWith('.conf'))
  .map((f) => f.slice(0, -5));
const read = (f: string) => readFileSync(path.join(DIR, f), 'utf8');

/** `### name` sections of a facts/stdin file, in order. */
function sections(text: string): { title: string; body: string }[] {
  const out: { title: string; body: string }[] = [];
  for (const line of text.split(/(?<=\n)/)) {
    if (line.startsWith('### ')) out.push({ title: line.slice(4).trimEnd(), body: '' });
    else if (out.length) out[out.length - 1].body += line;
  }
  return out;
}

function section(text: string, title: string): string[] {
  const s = sections(text).find((x) => x.title === title);
  return (s?.body ?? '').split('\n').filter((l) => l !== '');
}

function upFacts(name: string): UpFacts {
  const t = read(`${name}.up.facts`);
  const routeMtus: Record<string, number> = {};
  for (const l of section(t, 'route-mtus')) {
    const [addr, mtu] = l.split(' ');
    if (mtu) routeMtus[addr] = Number(mtu);
  }
  const def = section(t, 'default-route-mtu')[0];
  return {
    tablesInUse: section(t, 'tables-in-use').map(Number),
    routeMtus,
    defaultRouteMtu: def === undefined ? undefined : Number(def),
    linkLocal6: section(t, 'link-local6'),
    hasNft: true,
    hasIptables: true, // a stand-in iptables was on PATH
    hasResolvconf: true,
    resolvconfPrefix: '',
  };
}

function downFacts(name: string): DownFacts {
  const t = read(`${name}.down.facts`);
  const mark = section(t, 'fwmark')[0];
  return {
    fwmark: mark === 'off' ? 0 : Number(mark),
    allowedIps: section(t, 'allowed-ips'),
    interfaceExists: true,
    rules4: section(t, 'rules4'),
    rules6: section(t, 'rules6'),
    nftTables: section(t, 'nft-tables'),
    hasNft: true,
    // The stand-in iptables had no iptables-save: wg-quick's save loop read nothing.
    iptablesSave4: '',
    iptablesSave6: '',
    resolvconfPrefix: '',
  };
}

/** wg-quick's recorded lines; the kernel attempt before the userspace fallback is not one of our operations. */
function expectedLines(file: string): string[] {
  return read(file)
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('[!]') && !/^\[#\] ip link add \S+ type wireguard$/.test(l));
}

/** What was piped into commands, in order, as `### cmd` + payload (SaveConfig's `resolvconf -l` is a read). */
function expectedStdin(file: string): string[] {
  return sections(read(file))
    .filter((s) => !s.title.startsWith('resolvconf -l') && !s.title.startsWith('resolvconf -d'))
    .map((s) => `${s.title.split(' ').slice(0, 2).join(' ')}\n${s.body}`);
}

function planStdin(ops: PlanOp[]): string[] {
  return ops.flatMap((op) => (op.kind === 'run' && op.stdin !== undefined ? [`${op.argv.slice(0, 2).join(' ')}\n${op.stdin}`] : []));
}

describe('planUp matches wg-quick up', () => {
  it.each(names)('%s', (name) => {
    const config = parseConfig(read(`${name}.conf`));
    const plan = planUp(config, name, upFacts(name), { userspace: 'wireguard-go' });
    expect(plan.ops.map((o) => o.line)).toEqual(expectedLines(`${name}.up`));
    expect(planStdin(plan.ops)).toEqual(expectedStdin(`${name}.up.stdin`));
    expect(plan.warnings).toEqual([]);
  });
});

describe('planDown matches wg-quick down', () => {
  it.each(names)('%s', (name) => {
    const config = parseConfig(read(`${name}.conf`));
    const plan = planDown(config, name, downFacts(name));
    expect(plan.ops.map((o) => o.line)).toEqual(expectedLines(`${name}.down`));
    expect(planStdin(plan.ops)).toEqual(expectedStdin(`${name}.down.stdin`));
  });
});
