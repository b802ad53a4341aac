# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's task clock: appends one JSON line per task start (wall clock,
name, file) to $SQLAUTH_BENCH_TIMING, so that bench/fixpath.py can tell the
write phase from the rest and give each LDAP connection the relay saw to the
task that opened it. Not part of the collection."""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timing
type: aggregate
short_description: task start times for the benchmark
description: Appends a JSON line per task start to $SQLAUTH_BENCH_TIMING.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, **record):
        path = os.environ.get("SQLAUTH_BENCH_TIMING")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(dict(record, time=time.time())) + "\n")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write(event="task", name=task.get_name(), path=task.get_path() or "", action=task.action)

    def v2_playbook_on_stats(self, stats):
        self._write(event="end")
