// The small routing set-up an embedded Tunnel needs: addresses, link up, a route per allowed IP.
// Default routes need policy routing (fwmark, rules, nftables); that is `wiretun up`'s job.
import { isIPv6 } from 'node:net';
import { WiretunError } from '../errors';
import { CommandError, must } from '../proc';

export interface LinkSetup {
  addresses: string[];
  routes: string[];
}

function family(cidr: string): '-4' | '-6' {
  return isIPv6(cidr.split('/')[0]) ? '-6' : '-4';
}

/** The `ip` commands for a link set-up, in the order they run. */
export function linkCommands(name: string, setup: LinkSetup): string[][] {
  const defaults = setup.routes.filter((r) => r.endsWith('/0'));
  if (defaults.length) {
    throw new WiretunError('EINVAL', `default route ${defaults[0]} needs policy routing: use \`wiretun up\``);
  }
  return [
    ...setup.addresses.map((a) => [family(a), 'address', 'add', a, 'dev', name]),
    ['link', 'set', 'up', 'dev', name],
    ...setup.routes.map((r) => [family(r), 'route', 'replace', r, 'dev', name]),
  ];
}

/** Runs the commands; the caller deletes the interface on failure, which undoes all of them. */
export async function configureLink(name: string, setup: LinkSetup): Promise<void> {
  for (const args of linkCommands(name, setup)) {
    try {
      await must('ip', args);
    } catch (err) {
      const stderr = err instanceof CommandError ? err.result.stderr.trim() : '';
      throw new WiretunError('EIO', `ip ${args.join(' ')} failed: ${stderr || String(err)}`, { cause: err });
    }
  }
}
