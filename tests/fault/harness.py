"""Module processes started at the same instant.

Each process is forked, imports the module under test from the collection
as installed from its tarball (.cache/collections) with everything it
imports (ansible, ldap3), encodes its arguments, and then waits at one
barrier: Python's start-up and the imports are done before any of them is
released (main() then parses the arguments and connects), so the writers
meet the DC within tens of milliseconds of each other, which ``&`` and
ansible-playbook's start-up jitter (seconds) never achieve. Each process then runs
the module's main() as AnsiballZ would, and hands back the JSON the module
printed and how long main() took.
"""
import importlib
import io
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = Path(os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".cache" / "collections")).split(":")[0])


@dataclass
class ModuleRun:
    """One module process: its exit code, the result it printed, when it
    was released from the barrier (wall clock) and how long main() ran."""

    returncode: int
    result: dict
    released: float
    seconds: float

    @property
    def failed(self):
        return self.returncode != 0 or bool(self.result.get("failed"))

    @property
    def message(self):
        return self.result.get("msg", "")

    @property
    def warnings(self):
        """The module's warnings as text: ansible-core 2.19 returns each as
        a structured event ({"event": {"msg": ...}}), older ones as strings."""
        return [item if isinstance(item, str) else (item.get("event") or {}).get("msg", "")
                for item in self.result.get("warnings") or []]


def _child(module_name, args, barrier, pipe, check_mode):
    sys.path.insert(0, str(COLLECTIONS))
    from ansible.module_utils.testing import patch_module_args

    module = importlib.import_module("ansible_collections.sqlauth.kerberos.plugins.modules.%s" % module_name)
    arguments = dict(args, _ansible_check_mode=check_mode)
    output = io.StringIO()
    returncode = 0
    with patch_module_args(arguments):
        barrier.wait()
        released = time.time()
        started = time.monotonic()
        sys.stdout = output
        try:
            module.main()
        except SystemExit as stop:
            returncode = stop.code or 0
        finally:
            sys.stdout = sys.__stdout__
        seconds = time.monotonic() - started
    text = output.getvalue().strip()
    try:
        result = json.loads(text.splitlines()[-1]) if text else {}
    except ValueError:
        result = dict(failed=True, msg="unparsable module output: %s" % text[-2000:])
    pipe.send((returncode, result, released, seconds))
    pipe.close()


def run_together(module_name, args_list, check_mode=False, timeout=300):
    """Run one process of ``module_name`` per item of ``args_list``, all
    released from one barrier at once. Returns a ModuleRun per item, in order."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(args_list), timeout=timeout)
    processes = []
    for args in args_list:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(module_name, args, barrier, sender, check_mode))
        process.start()
        sender.close()
        processes.append((process, receiver))
    runs = []
    for process, receiver in processes:
        if not receiver.poll(timeout):
            process.kill()
            raise AssertionError("a %s process did not finish within %ds" % (module_name, timeout))
        runs.append(ModuleRun(*receiver.recv()))
        process.join(timeout)
    return runs


def run_one(module_name, args, check_mode=False, timeout=300):
    return run_together(module_name, [args], check_mode, timeout)[0]


def start_skew(runs):
    """Seconds between the first and the last release from the barrier."""
    released = [run.released for run in runs]
    return max(released) - min(released)
