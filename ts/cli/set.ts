// `wiretun set IF ...`: wg set's grammar over the UAPI, plus `+CIDR`/`-CIDR` in allowed-ips (newer wg). All
// arguments are checked, key files read and host names resolved before one set request is sent.
import { uapiSet } from '../uapi/client';
import { errorText } from './wg-device';
import { ArgError, parseSetArgs, setBody } from './wg-set';

const USAGE =
  'Usage: wiretun set <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>]\n' +
  '         [peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>]\n' +
  '          [persistent-keepalive <interval seconds>] [allowed-ips [+|-]<ip1>/<cidr1>[,[+|-]<ip2>/<cidr2>]...] ]...\n';

export async function run(argv: string[]): Promise<number> {
  const [iface, ...rest] = argv;
  if (iface === '-h' || iface === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (iface === undefined || iface.startsWith('-') || rest.length === 0) {
    process.stderr.write(`wiretun set: ${iface === undefined || iface.startsWith('-') ? 'missing <interface>' : 'nothing to set'}\n${USAGE}`);
    return 1;
  }
  let body: string;
  try {
    body = setBody(await parseSetArgs(rest, (w) => process.stderr.write(`${w}\n`)));
  } catch (err) {
    if (!(err instanceof ArgError)) throw err;
    process.stderr.write(`wiretun set: ${err.message}\n${USAGE}`);
    return 1;
  }
  try {
    await uapiSet(iface, body);
    return 0;
  } catch (err) {
    process.stderr.write(`wiretun set: Unable to modify interface ${iface}: ${errorText(err)}\n`);
    return 1;
  }
}
