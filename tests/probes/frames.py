#!/usr/bin/env python3
"""Hand-made packets for the agents' bad-input and attack tests.

usage: frames.py frame IFACE GATEWAY_MAC SRC_IP DST_IP SRC_PORT DST_PORT KIND
         a malformed or odd frame from a client host to its gateway, over AF_PACKET
       frames.py inject SRC_IP DST_IP SRC_PORT DST_PORT KIND SEQ ACK [OUTER_SRC_IP]
         a forged packet from a rogue board, routed by its kernel (raw socket, any source)
Prints one JSON line describing what was sent. Python because it ships on every Pi image and on
Debian, and AF_PACKET lets a test send what no socket API would (bad checksums, lying lengths).
"""
import json
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
PSH_ACK = 0x18
SYN_ACK = 0x12
MSS_1460 = struct.pack('!BBH', 2, 4, 1460)


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
    raise SystemExit('unknown kind ' + kind)


def forged(kind, src, dst, sport, dport, seq, ack, outer_src):
    if kind == 'synack':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, SYN_ACK, MSS_1460, ack=ack))
    if kind == 'rst':
        return ipv4(src, dst, tcp(src, dst, sport, dport, seq, RST))
    if kind == 'tunnel-data':
        inner = ipv4(src, dst, tcp(src, dst, sport, dport, seq, PSH_ACK, ack=ack, payload=b'forged by a rogue board\n'))
        return ipv4(outer_src, dst, inner, proto=4)
    raise SystemExit('unknown kind ' + kind)


def send_frame(iface, gateway_mac, src, dst, sport, dport, kind):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    ethernet = bytes.fromhex(gateway_mac.replace(':', '')) + sock.getsockname()[4] + b'\x08\x00'
    sent = frames(kind, src, dst, int(sport), int(dport))
    for frame in sent:
        sock.send(ethernet + frame)
    return sent


def inject(src, dst, sport, dport, kind, seq, ack, outer_src=None):
    packet = forged(kind, src, dst, int(sport), int(dport), int(seq), int(ack), outer_src)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.sendto(packet, (dst, 0))
    return [packet]


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    sent = send_frame(*args) if mode == 'frame' else inject(*args)
    print(json.dumps({'mode': mode, 'frames': len(sent), 'bytes': [len(f) for f in sent]}))


main()
