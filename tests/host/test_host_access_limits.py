"""Dom0 files that are not what they should be (issue 10, hostile or broken
peers): a FIFO, a device, a directory or a huge file swapped in at a path
xentui reads is refused with one clear line, never read into memory, never
waited on. Locally (LocalAccess) and over SFTP (SshAccess, real sshd).
"""

from __future__ import annotations

import os

import pytest

from xentui.host.access import MAX_FILE_BYTES, AccessError, LocalAccess, SshAccess
from xentui.host.gather import read_pool_role
from xentui.host.xapi_process import XAPI_PID_PATH, check_xapi_running


def _place(root, dom0_path):
    local = root / dom0_path.lstrip("/")
    local.parent.mkdir(parents=True, exist_ok=True)
    return local


def _one_line(text):
    return "\n" not in text and "\r" not in text and "Traceback" not in text


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    # Opening a FIFO for reading blocks until someone writes: never here.
    os.mkfifo(_place(tmp_path, XAPI_PID_PATH))
    access = LocalAccess(tmp_path)
    with pytest.raises(AccessError) as error:
        access.read_file(XAPI_PID_PATH)
    assert str(error.value).endswith("xapi.pid: a FIFO, not a regular file; not read")
    fact = check_xapi_running(access, lambda: 0.0)
    assert fact.value is None and "a FIFO" in fact.error and _one_line(fact.error)


def test_an_endless_device_is_refused(tmp_path):
    # /dev/zero never ends: a symlink to it (or the device itself) is refused
    # before it is even opened.
    os.symlink("/dev/zero", _place(tmp_path, "/etc/xensource/pool.conf"))
    fact = read_pool_role(LocalAccess(tmp_path))
    assert fact.value is None
    assert "a character device, not a regular file; not read" in fact.error and _one_line(fact.error)


def test_a_directory_is_refused(tmp_path):
    _place(tmp_path, "/etc/xensource/pool.conf").mkdir()
    with pytest.raises(AccessError) as error:
        LocalAccess(tmp_path).read_file("/etc/xensource/pool.conf")
    assert "a directory, not a regular file" in str(error.value)


def test_a_huge_file_is_refused_unread(tmp_path):
    # A sparse file one byte over the cap: refused from its size, not read.
    huge = _place(tmp_path, "/var/xapi/state.db")
    with open(huge, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(AccessError) as error:
        LocalAccess(tmp_path).read_file("/var/xapi/state.db")
    assert "%d bytes, more than the 256 MB a dom0 file may have; not read" % (MAX_FILE_BYTES + 1) in str(error.value)


def test_the_cap_holds_for_files_whose_size_lies(tmp_path):
    # /proc files say 0 bytes and are read anyway; the cap counts what is
    # read. /proc/self/environ is never empty and is "0 bytes" by stat.
    assert os.stat("/proc/self/environ").st_size == 0
    os.symlink("/proc/self/environ", _place(tmp_path, "/etc/xensource-inventory"))
    size = len(LocalAccess(tmp_path).read_file("/etc/xensource-inventory")[0])
    assert size > 0
    with pytest.raises(AccessError) as error:
        LocalAccess(tmp_path, max_file_bytes=size - 1).read_file("/etc/xensource-inventory")
    assert "more than the %d bytes a dom0 file may have; not read" % (size - 1) in str(error.value)


def test_regular_files_still_read_whole(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 5)  # several read chunks
    _place(tmp_path, "/var/xapi/state.db").write_bytes(data)
    assert LocalAccess(tmp_path).read_file("/var/xapi/state.db")[0] == data


@pytest.mark.sshd
def test_over_sftp_a_device_is_refused(sshd_server, tmp_path):
    os.symlink("/dev/zero", _place(tmp_path, "/etc/xensource/pool.conf"))
    client = sshd_server.connect()
    try:
        access = SshAccess(client, root=str(tmp_path))
        with pytest.raises(AccessError) as error:
            access.read_file("/etc/xensource/pool.conf")
        assert "a character device, not a regular file; not read" in str(error.value)
        (tmp_path / "etc/hello").write_bytes(b"hello")
        assert access.read_file("/etc/hello")[0] == b"hello"  # the SFTP session is still usable
    finally:
        client.close()
