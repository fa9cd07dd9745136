#!/usr/bin/env python3
"""Writes the seed scripts for the inbound and gro targets. The encoding is that of
crates/wiretun-core/src/fuzzing/inbound.rs (step) and packets.rs (build); each seed completes real
handshakes so the fuzzer starts from inputs that reach decryption and the TUN, not from the size checks.
fuzzing/regressions.rs checks that they still do."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
INITIATE, SEND, READ, WE_INITIATE, MUTATE, REPLAY, ROAM, FLUSH = 1, 2, 3, 4, 5, 6, 7, 8


def u16(n):
    return struct.pack('<H', n)


def tcp(payload, flow=0, v6=False, cont=True):
    """A TCP segment continuing its flow (the next sequence number), ACK only."""
    shape = (flow << 6) | (8 if cont else 0) | (3 if v6 else 1)
    seq = b'' if cont else struct.pack('<I', 1000)
    return bytes([shape]) + u16(payload) + b'\x41' + seq + b'\x00'


def udp(payload, flow=0):
    return bytes([(flow << 6) | 2]) + u16(payload) + b'\x42'


def send(remote, packet, v6=False, owner=None, host=2):
    """Remote sends a packet whose source is inside `owner`'s range (its own by default)."""
    owner = remote if owner is None else owner
    return bytes([SEND, remote, (owner << 1) | int(v6), host]) + packet


SEEDS = {
    # Remote 0 initiates; we answer; it confirms; then three in-order segments of one flow and a flush.
    'initiator-tcp-flow': bytes([9, INITIATE, 0, 0, READ, 0])
    + b''.join(send(0, tcp(1000)) for _ in range(3)) + bytes([FLUSH, 0]),
    # We initiate to remote 1 (preshared key); it answers; UDP over IPv6 from it.
    'responder-psk-udp6': bytes([9, WE_INITIATE, 1, 0, READ, 1, READ, 1])
    + b''.join(send(1, udp(500), v6=True) for _ in range(3)) + bytes([FLUSH, 0]),
    # Under load (limit 0): a cookie reply, the initiation again with mac2, then data.
    'cookie-under-load': bytes([0, INITIATE, 2, 0, READ, 2, INITIATE, 2, 1, READ, 2])
    + send(2, tcp(100)) + bytes([FLUSH, 0]),
    # Data, then a replay from elsewhere, a mutated copy, a spoofed inner source and roaming.
    'replay-mutate-spoof': bytes([1, INITIATE, 0, 0, READ, 0]) + send(0, tcp(200))
    + bytes([REPLAY, 0, 2, 3, 1, MUTATE, 0, 2, 0, 40, 0, 0, 1])
    + send(0, tcp(200), owner=1) + bytes([ROAM, 0, 3, 2]) + send(0, tcp(300)) + bytes([FLUSH, 0]),
}

GRO_SEEDS = {
    # Flows of in-order TCP segments over IPv4 and IPv6, and UDP.
    'tcp-udp-flows': b'\x01' + b''.join(bytes([c]) + p for c, p in [
        (0, tcp(1200)), (0, tcp(1200)), (0, tcp(1200)), (1, tcp(1200, v6=True)), (1, tcp(1200, v6=True)),
        (0, udp(900, flow=1)), (0, udp(900, flow=1)), (0, tcp(1200, flow=2, cont=False)),
    ]),
}

for folder, seeds in (('inbound', SEEDS), ('gro', GRO_SEEDS)):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(HERE, folder, name), 'wb') as f:
            f.write(data)
