// A short iperf3 TCP transfer through a tunnel, bounded in time. It shows that bytes move, never how fast.
import { must, run } from './proc';
import { Side } from './tunnel';
import { waitFor } from './wait';

const PORT = '5201';

export interface Transfer {
  /** Bytes the receiving iperf3 counted. */
  bytes: number;
  /** Who received them: the server, or with `reverse` the client. */
  receiver: Side;
  sender: Side;
}

/** `client` connects to an iperf3 server on `server`'s tunnel IPv4 address; `reverse` makes the server send. */
export async function iperf3(client: Side, server: Side, opts: { reverse?: boolean; seconds?: number } = {}): Promise<Transfer> {
  const ns = server.iface.node.ns;
  const listener = run('iperf3', ['-s', '-1', '-B', server.iface.v4!, '-p', PORT], { ns, timeoutMs: 30_000 });
  await waitFor('iperf3 server listening', async () => (await must('ss', ['-Hltn', `sport = :${PORT}`], { ns })).trim() !== '', {
    timeoutMs: 5_000,
    intervalMs: 50,
  });
  const args = ['-c', server.iface.v4!, '-p', PORT, '-t', String(opts.seconds ?? 2), '-J', '--connect-timeout', '3000'];
  const out = await must('iperf3', [...args, ...(opts.reverse ? ['-R'] : [])], { ns: client.iface.node.ns, timeoutMs: 20_000 });
  const done = await listener;
  if (done.code !== 0) throw new Error(`iperf3 server in ${ns}: exit ${done.code}\n${done.stderr}${done.stdout}`);
  const report = JSON.parse(out) as { end: { sum_received: { bytes: number } } };
  const [receiver, sender] = opts.reverse ? [client, server] : [server, client];
  return { bytes: report.end.sum_received.bytes, receiver, sender };
}
