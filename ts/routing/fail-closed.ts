// Fail closed after the daemon dies. wg-quick's policy routing sends everything unmarked to table T, whose only
// route is `default dev IF`. A userspace interface disappears with its daemon (kill -9, crash, OOM), the kernel
// drops that route with it, the lookup in T finds nothing and falls through to the main table's default route:
// the tunnelled traffic would leave in the clear. An `unreachable default` in T with the largest metric never
// wins while the interface's route exists, and stays behind when it goes, so the traffic meets "No route to
// host" instead, until `wiretun down` removes the rules and this route together. The tunnel's own UDP (marked
// T) never looks at T, and LAN routes in main still win through the suppress_prefixlength rule, as under wg-quick.
import { PlanOp, runOp } from './ops';
import { System } from './gather';

/** The largest route metric: below every route someone else might add to the table. */
export const FAIL_CLOSED_METRIC = 4294967295;

const FAMILIES = ['-4', '-6'] as const;
type FamilyFlag = (typeof FAMILIES)[number];

function failClosedRoute(verb: 'add' | 'delete', fam: FamilyFlag, table: number): PlanOp {
  return runOp(['ip', fam, 'route', verb, 'unreachable', 'default', 'table', String(table), 'metric', String(FAIL_CLOSED_METRIC)]);
}

/** `ip -4|-6 route add 0.0.0.0/0|::/0 dev IF table T`: the plan's default route into the policy table. */
function defaultRouteFamily(op: PlanOp, iface: string, table: number): FamilyFlag | undefined {
  if (op.kind !== 'run') return undefined;
  const [ip, fam, route, add, dst, dev, name, tableWord, t] = op.argv;
  const isDefault = dst === '0.0.0.0/0' || dst === '::/0';
  const matches = ip === 'ip' && route === 'route' && add === 'add' && isDefault && dev === 'dev' && name === iface;
  if (!matches || tableWord !== 'table' || t !== String(table) || op.argv.length !== 9) return undefined;
  return fam === '-4' || fam === '-6' ? fam : undefined;
}

/** The up plan with an unreachable default added to the policy table right after each default route into it. */
export function withFailClosed(ops: PlanOp[], iface: string, table: number | undefined): PlanOp[] {
  if (table === undefined) return ops;
  return ops.flatMap((op) => {
    const fam = defaultRouteFamily(op, iface, table);
    return fam ? [op, failClosedRoute('add', fam, table)] : [op];
  });
}

/** Deletes of the fail-closed routes actually present in `tables` (so a second `down` has nothing to fail on). */
export async function failClosedRemoval(sys: System, tables: (number | undefined)[]): Promise<PlanOp[]> {
  const ops: PlanOp[] = [];
  const wanted = [...new Set(tables.filter((t): t is number => t !== undefined && t !== 0))];
  for (const table of wanted) {
    for (const fam of FAMILIES) {
      if (await hasFailClosedRoute(sys, fam, table)) ops.push(failClosedRoute('delete', fam, table));
    }
  }
  return ops;
}

async function hasFailClosedRoute(sys: System, fam: FamilyFlag, table: number): Promise<boolean> {
  let routes: unknown;
  try {
    routes = JSON.parse((await sys.capture(['ip', '-j', fam, 'route', 'show', 'table', String(table)])) || '[]');
  } catch {
    return false; // no such table (IPv6 says so with an error) or no ip: nothing to delete
  }
  if (!Array.isArray(routes)) return false;
  return routes.some((r: Record<string, unknown>) => r.type === 'unreachable' && r.dst === 'default' && r.metric === FAIL_CLOSED_METRIC);
}
