# A DNS-SD-only mDNS responder for the lab (python3, standard library only): like
# many media players and IoT devices, it answers the service type enumeration
# (_services._dns-sd._udp.local) and its one service type with PTR, SRV and A, and
# nothing else (no reverse lookups). Legacy queries (from a port other than 5353) are
# answered by unicast to the asking port, at once (RFC 6762 §6.7).
#   python3 mdns_sd.py IFADDR HOSTNAME SERVICE_TYPE INSTANCE PIDFILE
# Forks into the background; lives until killed (the lab kills it with its namespace).
import os, socket, struct, sys

addr, host, stype, instance, pidfile = sys.argv[1:6]
services = "_services._dns-sd._udp.local"


def name(n):
    out = b""
    for label in n.split("."):
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=10):
    return name(owner) + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def qname(msg, at):
    labels = []
    for _ in range(128):
        n = msg[at]
        if n == 0:
            return ".".join(labels).lower(), at + 1
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[at + 1 : at + 1 + n].decode("utf-8", "replace"))
        at += 1 + n
    raise ValueError("too many labels")


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5353))
s.setsockopt(
    socket.IPPROTO_IP,
    socket.IP_ADD_MEMBERSHIP,
    socket.inet_aton("224.0.0.251") + socket.inet_aton(addr),
)
if os.fork():
    sys.exit(0)
os.setsid()
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))
full = instance + "." + stype
while True:
    msg, src = s.recvfrom(2048)
    try:
        qid, flags, qd = struct.unpack(">HHH", msg[:6])
        if flags & 0x8000 or qd != 1:
            continue
        q, end = qname(msg, 12)
        question = msg[12 : end + 4]
    except (ValueError, IndexError, struct.error):
        continue
    if q == services:
        answers = [rr(services, 12, name(stype))]
    elif q == stype.lower():
        answers = [
            rr(stype, 12, name(full)),
            rr(full, 33, struct.pack(">HHH", 0, 0, 8009) + name(host)),
            rr(host, 1, socket.inet_aton(addr)),
        ]
    else:
        continue
    head = struct.pack(">HHHHHH", qid, 0x8400, 1, len(answers), 0, 0)
    s.sendto(head + question + b"".join(answers), src)
