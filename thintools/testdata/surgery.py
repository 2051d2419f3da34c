#!/usr/bin/env python3
"""Image surgery for gen.sh (developer tool, never run by tests).

  surgery.py IMG flip BLOCK          flip a byte inside BLOCK (bad checksum)
  surgery.py IMG snap                add a metadata snapshot (reserve_metadata_snap by hand)
  surgery.py IMG leak BLOCK          count an unused metadata block as 1 (a leak)
  surgery.py IMG lower BLOCK         count a used metadata block one lower
  surgery.py IMG flags N             set the superblock flags word
  surgery.py IMG sbfield OFF SIZE V  set a superblock field
  surgery.py IMG nodefield BLOCK OFF SIZE V   set a btree node header field, fix checksum
"""
import struct, sys, zlib

def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc  # no final inversion (dm_bm_checksum)

XOR = {'sb': 160774, 'node': 121107, 'index': 160478, 'bitmap': 240779}

def rd(f, b):
    f.seek(b * 4096); return bytearray(f.read(4096))

def wr(f, b, data, kind):
    struct.pack_into('<I', data, 0, crc32c(bytes(data[4:])) ^ XOR[kind])
    f.seek(b * 4096); f.write(data)

def meta_counts(f):
    sb = rd(f, 0)
    nr, alloc, idx, rc = struct.unpack_from('<QQQQ', sb, 192)
    index = rd(f, idx)
    return sb, nr, idx, index

def get_count(f, b):
    sb, nr, idx, index = meta_counts(f)
    bm_blk = struct.unpack_from('<Q', index, 16 + 16 * (b // 16320))[0]
    bm = rd(f, bm_blk)
    i = b % 16320
    byte = bm[16 + i // 4]; sh = 2 * (i % 4)
    lo = (byte >> sh) & 1; hi = (byte >> (sh + 1)) & 1
    return lo * 2 + hi

def set_count(f, b, v):
    sb, nr, idx, index = meta_counts(f)
    bm_blk = struct.unpack_from('<Q', index, 16 + 16 * (b // 16320))[0]
    bm = rd(f, bm_blk)
    i = b % 16320
    sh = 2 * (i % 4)
    byte = bm[16 + i // 4] & ~(3 << sh)
    lo, hi = {0: (0, 0), 1: (0, 1), 2: (1, 0)}[v]
    byte |= (lo << sh) | (hi << (sh + 1))
    bm[16 + i // 4] = byte
    wr(f, bm_blk, bm, 'bitmap')

def main():
    img, op = sys.argv[1], sys.argv[2]
    a = [int(x) for x in sys.argv[3:]]
    with open(img, 'r+b') as f:
        if op == 'flip':
            d = rd(f, a[0]); d[3000] ^= 0xff; f.seek(a[0] * 4096); f.write(d)
        elif op == 'snap':
            sb, nr, idx, index = meta_counts(f)
            h = next(b for b in range(1, nr) if get_count(f, b) == 0)
            cp = bytearray(sb)
            struct.pack_into('<Q', cp, 8, h)
            cp[64:320] = bytes(256)
            wr(f, h, cp, 'sb')
            set_count(f, h, 1)
            mroot, droot = struct.unpack_from('<QQ', sb, 320)
            set_count(f, mroot, get_count(f, mroot) + 1)
            set_count(f, droot, get_count(f, droot) + 1)
            sb = rd(f, 0)
            struct.pack_into('<Q', sb, 56, h)
            alloc = struct.unpack_from('<Q', sb, 200)[0]
            struct.pack_into('<Q', sb, 200, alloc + 1)
            wr(f, 0, sb, 'sb')
            print(h)
        elif op == 'leak':
            set_count(f, a[0], get_count(f, a[0]) + 1)
        elif op == 'lower':
            set_count(f, a[0], get_count(f, a[0]) - 1)
        elif op == 'flags':
            sb = rd(f, 0); struct.pack_into('<I', sb, 4, a[0]); wr(f, 0, sb, 'sb')
        elif op == 'sbfield':
            sb = rd(f, 0); struct.pack_into({4: '<I', 8: '<Q'}[a[1]], sb, a[0], a[2]); wr(f, 0, sb, 'sb')
        elif op == 'nodefield':
            d = rd(f, a[0]); struct.pack_into({4: '<I', 8: '<Q'}[a[2]], d, a[1], a[3]); wr(f, a[0], d, 'node')

main()
