#!/usr/bin/env python3
"""Hand-made packets for the agents' bad-input and attack tests.

usage: frames.py frame IFACE DST_MAC SRC_IP DST_IP SRC_PORT DST_PORT KIND
         a malformed or odd frame to DST_MAC (a client's gateway, or a MAC nobody has), over AF_PACKET
       frames.py inject SRC_IP DST_IP SRC_PORT DST_PORT KIND SEQ ACK [OUTER_SRC_IP [OUTER_DST_IP]]
         a forged packet from a rogue board, routed by its kernel (raw socket, any source); the
         tunnel kinds wrap it in IPv4-in-IPv4 from OUTER_SRC_IP to OUTER_DST_IP (default DST_IP)
       frames.py macflood IFACE COUNT DST_MAC
         COUNT frames to DST_MAC, each from a fresh random source MAC
Prints one JSON line describing what was sent. Python because it ships on every Pi image and on
Debian, and AF_PACKET lets a test send what no socket API would (bad checksums, lying lengths).
"""
import json
import os
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def ipv4(src, dst, payload, proto=6, flags_frag=0x4000, total_length=None, bad_checksum=False, version_ihl=0x45):
    length = total_length if total_length is not None else 20 + len(payload)
    header = struct.pack('!BBHHHBBH4s4s', version_ihl, 0, length, 0x5352, flags_frag, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    value = checksum(header) ^ (0xffff if bad_checksum else 0)
    return header[:10] + struct.pack('!H', value) + header[12:] + payload


def tcp(src, dst, sport, dport, seq, flags, options=b'', data_offset_words=None, ack=0, payload=b''):
    words = data_offset_words if data_offset_words is not None else 5 + len(options) // 4
    header = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, words << 4, flags, 64240, 0, 0) + options
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, len(header) + len(payload))
    return header[:16] + struct.pack('!H', checksum(pseudo + header + payload)) + header[18:] + payload


SYN = 0x02
RST = 0x04
ACK = 0x10
PSH_ACK = 0x18
SYN_ACK = 0x12
MSS_1460 = struct.pack('!BBH', 2, 4, 1460)
# synrace's tag (docs/protocol.md "The tag"): three NOPs, kind 253, length 5, experiment id "SR", permitted.
TAG = b'\x01\x01\x01' + struct.pack('!BBHB', 253, 5, 0x5352, 1)


def frames(kind, src, dst, sport, dport):
    seq = 0x12345678
    syn = tcp(src, dst, sport, dport, seq, SYN, MSS_1460)
    if kind == 'syn-twice':
        return [ipv4(src, dst, syn), ipv4(src, dst, syn)]
    if kind == 'full-options-syn':
        # 40 bytes of options: MSS, then NOPs up to the limit, leaving no room for the tag.
        return [ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, MSS_1460 + b'\x01' * 36))]
    if kind == 'odd-options-syn':
        # An option whose length byte is 0: a walker that trusts it would loop forever.
        return [ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, b'\x08\x00\x01\x01'))]
    if kind == 'bad-data-offset':
        return [ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, data_offset_words=15))]
    if kind == 'truncated-tcp':
        return [ipv4(src, dst, syn[:12])]
    if kind == 'short-ip-header-length':
        # IHL 4: a header shorter than the fixed IPv4 header.
        return [ipv4(src, dst, syn, version_ihl=0x44)]
    if kind == 'bad-ip-checksum':
        return [ipv4(src, dst, syn, bad_checksum=True)]
    if kind == 'first-fragment':
        return [ipv4(src, dst, syn, flags_frag=0x2000)]
    if kind == 'tagged-syn':
        # A client host writing the tag on its own SYN, to make the switch fan out at its say-so.
        return [ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, MSS_1460 + TAG))]
    if kind == 'synack':
        return [ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN_ACK, MSS_1460, ack=1))]
    raise SystemExit('unknown kind ' + kind)


def plain(kind, src, dst, sport, dport, seq, ack):
    if kind == 'synack':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN_ACK, MSS_1460, ack=ack))
    if kind == 'rst':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, RST))
    if kind == 'ack':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, ACK, ack=ack))
    if kind == 'data':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, PSH_ACK, ack=ack, payload=b'forged by a rogue board\n'))
    if kind == 'syn':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, MSS_1460))
    if kind == 'tagged-syn':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN, MSS_1460 + TAG))
    raise SystemExit('unknown kind ' + kind)


def forged(kind, src, dst, sport, dport, seq, ack, outer_src, outer_dst):
    """A packet, or with a tunnel- prefix the same packet inside IPv4-in-IPv4."""
    if kind.startswith('tunnel-'):
        inner = plain(kind[len('tunnel-'):], src, dst, sport, dport, seq, ack)
        return ipv4(outer_src, outer_dst, inner, proto=4), outer_dst
    return plain(kind, src, dst, sport, dport, seq, ack), dst


def send_frame(iface, dst_mac, src, dst, sport, dport, kind):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    ethernet = bytes.fromhex(dst_mac.replace(':', '')) + sock.getsockname()[4] + b'\x08\x00'
    sent = frames(kind, src, dst, int(sport), int(dport))
    for frame in sent:
        sock.send(ethernet + frame)
    return sent


def inject(src, dst, sport, dport, kind, seq, ack, outer_src=None, outer_dst=None):
    packet, via = forged(kind, src, dst, int(sport), int(dport), int(seq), int(ack), outer_src, outer_dst or dst)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.sendto(packet, (via, 0))
    return [packet]


def mac_flood(iface, count, dst_mac):
    """Frames from random locally administered source MACs: what fills a learning switch's table."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    head = bytes.fromhex(dst_mac.replace(':', ''))
    # An EtherType for local experiments: nothing on the boards parses it.
    tail = b'\x88\xb5' + b'synrace mac flood'.ljust(46, b'\0')
    for _ in range(int(count)):
        source = bytearray(os.urandom(6))
        source[0] = (source[0] & 0xfe) | 0x02
        sock.send(head + bytes(source) + tail)
    return [b''] * int(count)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    sent = send_frame(*args) if mode == 'frame' else mac_flood(*args) if mode == 'macflood' else inject(*args)
    print(json.dumps({'mode': mode, 'frames': len(sent), 'bytes': [len(f) for f in sent[:10]]}))


main()
