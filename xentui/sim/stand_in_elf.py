"""A 150-byte static x86-64 Linux program that reads stdin until EOF, then exits 0.

The simulator names a copy of `cat` `xapi` so that each simulated xapi has a
real process behind its pid file (see xapi_pid.py). Where there is no `cat`
at all, as in the dom0 single file run inside an empty root file system,
this stands in for it: it needs no libc, no loader and no file but itself.
"""

from __future__ import annotations

import platform
import struct

_BASE = 0x400000
_HEADERS = 64 + 56  # ELF header + one program header
# loop: read(0, rsp-16, 1); if it returned > 0, again; else exit(0)
_CODE = bytes.fromhex(
    "31c0"  # xor eax, eax        (SYS_read)
    "31ff"  # xor edi, edi        (fd 0)
    "488d7424f0"  # lea rsi, [rsp-16]   (red zone: always mapped)
    "ba01000000"  # mov edx, 1
    "0f05"  # syscall
    "4885c0"  # test rax, rax
    "7feb"  # jg loop             (-21: back to the first byte)
    "b83c000000"  # mov eax, 60         (SYS_exit)
    "31ff"  # xor edi, edi
    "0f05"  # syscall
)


def supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def image() -> bytes:
    size = _HEADERS + len(_CODE)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1, SYSV
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, _BASE + _HEADERS, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, R+X
    return header + program + _CODE
