// The operations of an up/down plan. Each carries what to do and `line`: the `[#] ...` text wg-quick prints
// for it, so wiretun's output reads the same. Payloads that wg-quick pipes or passes as /dev/fd/63 travel in
// `stdin`; the printed line keeps wg-quick's /dev/fd/63.

export type HookPhase = 'PreUp' | 'PostUp' | 'PreDown' | 'PostDown';

export type PlanOp =
  /** A user hook, `%i` already replaced; wg-quick runs it with bash (`eval` in a subshell). */
  | { kind: 'hook'; line: string; phase: HookPhase; command: string }
  /** Create the WireGuard interface (kernel link, or the userspace daemon). */
  | { kind: 'add-interface'; line: string }
  /** Load the wg part of the config (wg setconf): device and peers, replacing what is there. */
  | { kind: 'set-config'; line: string }
  /** `wg set IF fwmark N` for default-route policy routing. */
  | { kind: 'set-fwmark'; line: string; fwmark: number }
  /** An external command (ip, sysctl, nft, iptables-restore, resolvconf). */
  | { kind: 'run'; line: string; argv: string[]; stdin?: string }
  /** SaveConfig: write the running state back to the config file (wg showconf + wg-quick keys). */
  | { kind: 'save-config'; line: string }
  /** Remove the interface (kernel link, or stop the userspace daemon). */
  | { kind: 'delete-interface'; line: string };

export interface Plan {
  ops: PlanOp[];
  /** Things that will probably fail or differ from what the user expects; planning still succeeded. */
  warnings: string[];
}

/** The text wg-quick prints for a command: its words joined by single spaces after `[#] `. */
export function printed(words: (string | number)[]): string {
  return `[#] ${words.join(' ')}`;
}

/** A `run` op whose printed line is its argv. */
export function runOp(argv: string[], stdin?: string): PlanOp {
  return stdin === undefined ? { kind: 'run', line: printed(argv), argv } : { kind: 'run', line: printed(argv), argv, stdin };
}

/** A `run` op for `CMD ... <(payload)`: wg-quick prints the process-substitution path. */
export function runWithFd(words: string[], payload: string): PlanOp {
  return { kind: 'run', line: printed([...words, '/dev/fd/63']), argv: [...words, '/dev/stdin'], stdin: payload };
}

export function hookOps(phase: HookPhase, hooks: string[], iface: string): PlanOp[] {
  return hooks.map((h) => {
    const command = h.split('%i').join(iface);
    return { kind: 'hook', line: `[#] ${command}`, phase, command };
  });
}
