"""What the fault suite shares: the lab of the integration tests (its Lab,
KDC helpers and playbook runner, loaded from tests/integration_lab under
another module name), and the DC's process."""
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration_lab"))
_spec = importlib.util.spec_from_file_location("integration_lab_fixtures", REPO / "tests" / "integration_lab" / "conftest.py")
lab_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_fixtures)

Lab = lab_fixtures.Lab
AnsibleRunner = lab_fixtures.AnsibleRunner
run_playbook = lab_fixtures.run_playbook
LAB_SH = REPO / "tests" / "lab" / "lab.sh"


class DomainController:
    """The lab DC's samba process, by the PID it wrote itself."""

    def __init__(self, lab):
        self.pidfile = lab.dir / "run" / "samba.pid"

    @property
    def pid(self):
        return int(self.pidfile.read_text().strip())

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)

    def pause(self):
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.pid, signal.SIGCONT)

    def start(self):
        """Start it again (after a kill) and wait until LDAP answers."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
                time.sleep(0.1)  # still going down
            except (OSError, ValueError):
                break
        subprocess.run(["bash", str(LAB_SH), "start"], check=True, capture_output=True)


def create_users(lab, names, container="CN=Users"):
    """Plain user objects, made anew (deleted first if a run left them):
    {name: dict(dn, sid)}."""
    connection = lab.bind_admin()
    created = {}
    for name in names:
        dn = "CN=%s,%s,%s" % (name, container, lab.base_dn)
        connection.delete(dn)
        assert connection.add(dn, ["top", "person", "organizationalPerson", "user"], {"sAMAccountName": name}), \
            connection.result
        connection.search(dn, "(objectClass=*)", "BASE", attributes=["objectSid"])
        created[name] = dict(dn=dn, sid=str(connection.entries[0].objectSid.value))
    return created


def delete_users(lab, users):
    connection = lab.bind_admin()
    for user in users.values():
        connection.delete(user["dn"])
