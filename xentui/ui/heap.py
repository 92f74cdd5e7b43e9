"""Keep the UI's resident memory close to what it uses (glibc only).

A look at a 64-host pool reads a 13 MB state.db and a 6 MB event.from reply
into single buffers. glibc serves such blocks with mmap and returns them on
free, but after the first free it raises its mmap threshold to that size
("dynamic mmap threshold", see mallopt(3)), so the next buffer of that size
comes from a thread's heap arena and stays resident after it is freed: each
periodic re-read then ratchets the RSS up by the file's size. Fixing the
threshold at glibc's default turns the dynamic adjustment off. Elsewhere
(musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc malloc.h
DEFAULT_MMAP_THRESHOLD = 128 * 1024  # glibc's own default


def fix_mmap_threshold() -> bool:
    """True when glibc accepted the fixed threshold."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library handle, or not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    accepted = bool(mallopt(M_MMAP_THRESHOLD, DEFAULT_MMAP_THRESHOLD))
    if not accepted:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    return accepted
