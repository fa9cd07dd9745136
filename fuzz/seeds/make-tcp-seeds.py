"""Writes the seed scripts of the tcp-input target (see crates/wiretun-netstack/src/tcp2/fuzz.rs for the
encoding): handshakes both ways, data with SACK blocks, timeouts, a close."""
import struct, os

ISS, IRS = 0x1000_0000, 0x2000_0000
SYN, FIN, RST, PSH, ACK = 2, 1, 4, 8, 16


def tcp(seq, ack=None, flags=ACK, window=512, opts=b'', payload=b''):
    opts += b'\x01' * (-len(opts) % 4)
    flags |= ACK if ack is not None else 0
    off = (20 + len(opts)) // 4
    hdr = struct.pack('!HHIIBBHHH', 1234, 80, seq, ack or 0, off << 4, flags, window, 0, 0)
    return hdr + opts + payload


def syn_opts(ecr=0):
    return (struct.pack('!BBH', 2, 4, 1380) + b'\x04\x02' + struct.pack('!BBII', 8, 10, 5, ecr)
            + struct.pack('!BBB', 3, 3, 7))


def sack(blocks, tsval=6):
    body = b''.join(struct.pack('!II', s, e) for s, e in blocks)
    ts = struct.pack('!BBII', 8, 10, tsval, 1)
    return ts + struct.pack('!BB', 5, 2 + len(body)) + body if blocks else ts


def seg(b):
    return b'\x00' + struct.pack('!H', len(b)) + b


def wait(ms):
    return b'\x01' + struct.pack('!H', ms)


def write(n):
    return b'\x02' + struct.pack('!H', n)


READ, CLOSE = b'\x03', b'\x04'
una = ISS + 1
SEEDS = {
    # Active open, BBR: data, a SACK showing a hole, a timeout.
    'active-sack': b'\x00' + seg(tcp(IRS, ISS + 1, SYN, 65535, syn_opts(1))) + write(4000) + wait(50)
    + seg(tcp(IRS + 1, una + 536, opts=sack([(una + 1072, una + 2144)]))) + wait(30) + wait(300)
    + seg(tcp(IRS + 1, una + 4000, opts=sack([]))),
    # Passive open, CUBIC with pacing: the peer's data out of order, a duplicate, its FIN, our close.
    'passive-data-fin': b'\x07' + seg(tcp(IRS, None, SYN, 65535, syn_opts())) + wait(10)
    + seg(tcp(IRS + 1, ISS + 1, opts=sack([]))) + seg(tcp(IRS + 537, ISS + 1, opts=sack([]), payload=b'b' * 536))
    + seg(tcp(IRS + 1, ISS + 1, opts=sack([]), payload=b'a' * 536)) + READ
    + seg(tcp(IRS + 1, ISS + 1, opts=sack([]), payload=b'a' * 536))
    + seg(tcp(IRS + 1073, ISS + 1, FIN, opts=sack([]))) + CLOSE + wait(10),
    # Active open, a zero window, then an RST.
    'zero-window-rst': b'\x08' + seg(tcp(IRS, ISS + 1, SYN, 65535, syn_opts(1))) + write(2000) + wait(20)
    + seg(tcp(IRS + 1, una + 1072, window=0, opts=sack([]))) + wait(500) + wait(1000)
    + seg(tcp(IRS + 1, None, RST)),
}

here = os.path.dirname(os.path.abspath(__file__))
for name, data in SEEDS.items():
    with open(os.path.join(here, 'tcp-input', name), 'wb') as f:
        f.write(data)
