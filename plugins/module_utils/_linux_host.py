# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux host a module runs on, reduced to what the SQL Server modules
need: read and atomically replace a file, run a command, and see from /proc
which processes run and which TCP ports they listen on. No decisions here."""
from __future__ import annotations

import os
import tempfile
import time

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


class LinuxHost:
    """``module`` supplies atomic_move and run_command; ``proc`` is the
    procfs mount point."""

    def __init__(self, module, proc="/proc"):
        self.module = module
        self.proc = proc

    @staticmethod
    def read_file(path):
        """The file's bytes, or None when it does not exist."""
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    @staticmethod
    def folder_exists(path):
        return os.path.isdir(path)

    def write_file(self, path, content, new_file_mode=0o644):
        """Replace the file atomically (a temporary file in the same folder,
        renamed over it); an existing file keeps its owner, mode and SELinux
        context."""
        existed = os.path.exists(path)
        handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path) or ".")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            if not existed:
                os.chmod(temporary, new_file_mode)
            self.module.atomic_move(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def run(self, argv):
        """(rc, stdout, stderr) of a command run without a shell."""
        return self.module.run_command(list(argv), check_rc=False)

    def processes(self, name):
        """PIDs of the live processes (not zombies) whose command name is
        ``name``."""
        pids = []
        for entry in self._pid_entries():
            try:
                with open(os.path.join(self.proc, entry, "stat"), "r") as handle:
                    stat = handle.read()
            except OSError:
                continue
            # pid (comm) state ...: comm may hold spaces and parentheses.
            comm, dummy, rest = stat.partition("(")[2].rpartition(")")
            if comm == name and rest.split()[:1] != ["Z"]:
                pids.append(int(entry))
        return pids

    def listeners(self):
        """(port, socket inode) of every listening TCP socket, IPv4 and IPv6."""
        found = []
        for table in ("tcp", "tcp6"):
            try:
                with open(os.path.join(self.proc, "net", table), "r") as handle:
                    lines = handle.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[3] == _LISTEN:
                    found.append((int(fields[1].rsplit(":", 1)[1], 16), fields[9]))
        return found

    def socket_owners(self, pids=None):
        """({socket inode: pid}, pids whose descriptors could not be read)
        for the given PIDs, or for every process."""
        owners, unreadable = {}, set()
        for entry in ([str(pid) for pid in pids] if pids is not None else self._pid_entries()):
            folder = os.path.join(self.proc, entry, "fd")
            try:
                descriptors = os.listdir(folder)
            except OSError:
                unreadable.add(int(entry))
                continue
            for descriptor in descriptors:
                try:
                    target = os.readlink(os.path.join(folder, descriptor))
                except OSError:
                    continue
                if target.startswith("socket:["):
                    owners[target[8:-1]] = int(entry)
        return owners, unreadable

    def command_name(self, pid):
        try:
            with open(os.path.join(self.proc, str(pid), "comm"), "r") as handle:
                return handle.read().strip()
        except OSError:
            return "?"

    def _pid_entries(self):
        try:
            return [entry for entry in os.listdir(self.proc) if entry.isdigit()]
        except OSError:
            return []

    @staticmethod
    def wait(predicate, timeout, interval=0.5):
        """Poll ``predicate`` until it is true or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
