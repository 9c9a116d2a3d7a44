"""Runs ON a lab worker (test equipment): SIGKILL the Ansible module writing a file in a folder.

    python3 - FOLDER PREFIX SECONDS < killer.py

Watches FOLDER with inotify; when a file named PREFIX* is created there (the temporary file a
module writes before its atomic rename), SIGKILLs every pipelined Ansible module process on the
host (command line exactly ``/usr/bin/python3``, the way ansible starts a module with pipelining)
and prints one JSON line: the temp file, the pids killed, the seconds from creation to kill.
Exits 3 when nothing happened within SECONDS.
"""

import ctypes
import json
import os
import select
import signal
import struct
import sys
import time

IN_CREATE = 0x100


def module_pids():
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if handle.read() == b"/usr/bin/python3\0":
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


def main():
    folder, prefix, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.inotify_init()
    if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), IN_CREATE) < 0:
        sys.exit("inotify failed: errno %d" % ctypes.get_errno())
    print(json.dumps({"watching": folder}), flush=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        buf, offset = os.read(fd, 65536), 0
        while offset < len(buf):
            _wd, _mask, _cookie, length = struct.unpack_from("iIII", buf, offset)
            name = buf[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
            offset += 16 + length
            if name.startswith(prefix):
                seen = time.time()
                pids = module_pids()
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                print(json.dumps({"temp": os.path.join(folder, name), "killed": pids,
                                  "after_s": round(time.time() - seen, 4)}), flush=True)
                return 0
    return 3


if __name__ == "__main__":
    sys.exit(main())
