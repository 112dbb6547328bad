"""digest.h's digest (detshim-wordsum64), written again here independently of the shim,
for the hash tests that check a record's digests against the bytes a call wrote."""
import struct

M = (1 << 64) - 1
C1, C2, C3 = 0x9e3779b97f4a7c15, 0xd6e8feb86659fd93, 0x6a09e667f3bcc909


def fmix(k):
    k ^= k >> 33
    k = k * 0xff51afd7ed558ccd & M
    k ^= k >> 33
    k = k * 0xc4ceb9fe1a85ec53 & M
    k ^= k >> 33
    return k


def digest(b):
    n, s = len(b), 0
    b = bytes(b) + bytes(-n % 8)
    for i in range(len(b) // 8):
        w = struct.unpack_from("<Q", b, 8 * i)[0]
        s = (s + fmix(((w + C1) & M) ^ (i * C2 & M))) & M
    return "%#x" % fmix(s ^ fmix(n ^ C3))
