#!/usr/bin/env python3
"""A misbehaving SNMP v1/v2c agent for ksocket's hostile tests (lab namespaces only).

usage: hostile_agent.py ADDRESS PORT MODE SECONDS

It answers every request with community-independent responses, as MODE says:
  endless   GET: a short string per OID; GETNEXT/GETBULK: the next OIDs of the subtree,
            forever (each answer extends the requested OID to 14 arcs, then counts up)
  huge      as endless, with 1400-byte values, as many as fit in 60 KB
  drip      as endless, one answer every 0.9 s
  same      GETNEXT/GETBULK answer the requested OID itself (never increasing)
  arp       a router's ARP table (ipNetToMediaPhysAddress) with one entry indexed
            198.18.70.300 (an arc over 255) and one good entry, 198.18.70.45
It stops by itself after SECONDS. Minimal BER, written for the test: lengths and
integers as SNMP uses them.
"""
import socket
import sys
import time


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + body


def integer(v):
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(0x02, v.to_bytes(n, "big", signed=True))


def oid(arcs):
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        enc = [a & 0x7F]
        a >>= 7
        while a:
            enc.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, bytes(out))


def read_tlv(b, i):
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n


def read_oid(body):
    arcs = [body[0] // 40, body[0] % 40]
    v = 0
    for c in body[1:]:
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            arcs.append(v)
            v = 0
    return arcs


def parse(d):
    """(version, community, pdu tag, request id, non-repeaters, max-reps, [oids])"""
    _, msg, _ = read_tlv(d, 0)
    _, ver, i = read_tlv(msg, 0)
    _, comm, i = read_tlv(msg, i)
    ptag, pdu, _ = read_tlv(msg, i)
    _, rid, j = read_tlv(pdu, 0)
    _, a, j = read_tlv(pdu, j)
    _, b, j = read_tlv(pdu, j)
    _, vbl, _ = read_tlv(pdu, j)
    oids, k = [], 0
    while k < len(vbl):
        _, vb, k = read_tlv(vbl, k)
        _, o, _ = read_tlv(vb, 0)
        oids.append(read_oid(o))
    num = lambda x: int.from_bytes(x, "big", signed=True)
    return num(ver), comm, ptag, num(rid), num(a), num(b), oids


def response(ver, comm, rid, varbinds):
    vbl = b"".join(tlv(0x30, oid(o) + v) for o, v in varbinds)
    pdu = tlv(0xA2, integer(rid) + integer(0) + integer(0) + tlv(0x30, vbl))
    return tlv(0x30, integer(ver) + tlv(0x04, comm) + pdu)


def following(o):
    if len(o) < 14:
        return o + [1] * (14 - len(o))
    return o[:-1] + [o[-1] + 1]


NET_TO_MEDIA = [1, 3, 6, 1, 2, 1, 4, 22, 1, 2]


def answer(mode, ptag, reps, oids):
    value = tlv(0x04, b"h" * (1400 if mode == "huge" else 8))
    if ptag == 0xA0:  # GET
        return [(o, value) for o in oids]
    o = oids[0]
    if mode == "same":
        return [(o, value)]
    if mode == "arp":
        rows = [(NET_TO_MEDIA + [2, 198, 18, 70, 300], tlv(0x04, b"\x02\x00\x00\x00\x00\x2c")),
                (NET_TO_MEDIA + [2, 198, 18, 70, 45], tlv(0x04, b"\x02\x00\x00\x00\x00\x2d"))]
        after = sorted((r, v) for r, v in rows if r > o)
        if after:
            return after[:1]
        return [([1, 3, 6, 1, 2, 1, 4, 23], tlv(0x02, b"\x00"))]  # past the table
    out, size = [], 0
    n = max(1, reps) if ptag == 0xA5 else 1
    for _ in range(n):
        o = following(o)
        out.append((o, value))
        size += len(value) + 40
        if size > 60000:
            break
    return out


def main():
    addr, port, mode, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.bind((addr, port))
    s.settimeout(0.2)
    end = time.time() + seconds
    while time.time() < end:
        try:
            d, peer = s.recvfrom(65535)
        except socket.timeout:
            continue
        try:
            ver, comm, ptag, rid, _, reps, oids = parse(d)
        except (IndexError, ValueError):
            continue
        if mode == "drip":
            time.sleep(0.9)
        s.sendto(response(ver, comm, rid, answer(mode, ptag, reps, oids)), peer)


if __name__ == "__main__":
    main()
