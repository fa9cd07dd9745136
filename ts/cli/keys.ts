// `wiretun genkey | pubkey | genpsk`: the same keys and text wg(8) prints, made natively (X25519).
import { decodeKey, generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../keys';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function noArgs(name: string, argv: string[]): boolean {
  if (argv.length === 0) return true;
  const help = argv[0] === '-h' || argv[0] === '--help';
  process.stderr.write(`Usage: wiretun ${name}${name === 'pubkey' ? ' < private.key' : ''}\n`);
  if (!help) process.stderr.write(`wiretun ${name}: takes no arguments\n`);
  return false;
}

export async function genkey(argv: string[]): Promise<number> {
  if (!noArgs('genkey', argv)) return argv[0] === '--help' || argv[0] === '-h' ? 0 : 1;
  process.stdout.write(`${generatePrivateKey()}\n`);
  return 0;
}

export async function genpsk(argv: string[]): Promise<number> {
  if (!noArgs('genpsk', argv)) return argv[0] === '--help' || argv[0] === '-h' ? 0 : 1;
  process.stdout.write(`${generatePresharedKey()}\n`);
  return 0;
}

export async function pubkey(argv: string[]): Promise<number> {
  if (!noArgs('pubkey', argv)) return argv[0] === '--help' || argv[0] === '-h' ? 0 : 1;
  const input = (await readStdin()).trim();
  try {
    decodeKey(input, 'private key');
  } catch {
    // Never echo the input: it is meant to be a private key.
    process.stderr.write('wiretun pubkey: standard input is not a base64 WireGuard private key (44 characters)\n');
    return 1;
  }
  process.stdout.write(`${publicKeyFromPrivate(input)}\n`);
  return 0;
}
