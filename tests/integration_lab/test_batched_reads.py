"""Issue 19: the searches of one spn_acl or spn_register call do not grow
with the number of objects it writes (the bench found two reads per DACL
written and three per legacy duplicate removed). Counted by the bench's
counting relay (bench/latency_proxy.py --count: it ends TLS with the DC's
own certificate and reads each LDAP request that reaches the DC),
independent of the modules' own counters; what was written is then read
with samba-tool and ldapsearch.

The writes take the Samba paths the bench measured: the DACL by a replace
guarded by the collection's token (Samba refuses to delete a descriptor
value), and a legacy duplicate SPN by a guarded replace (Samba refuses to
delete one value of it)."""
import json
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO

SIZES = (3, 24)
SPN_ACES = ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
            "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")


class CountingRelay:
    """bench/latency_proxy.py with no delay, counting: one JSON record per
    connection, written when the connection closes."""

    def __init__(self, lab, work):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.counts = work / "counts.jsonl"
        tls = lab.dir / "private" / "tls"
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "latency_proxy.py"), "--rtt-ms", "0", "--map", "%d:636" % self.port,
             "--count", str(self.counts), "--tls-cert", str(tls / "cert.pem"), "--tls-key", str(tls / "key.pem"),
             "--ca", str(tls / "ca.pem"), "--server-name", lab.server], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def run(self, run_module, module, args):
        """The module's result and the requests it sent: {operation: count}."""
        self.counts.unlink(missing_ok=True)
        started = time.monotonic()
        result = run_module(module, dict(args, port=self.port))
        elapsed = time.monotonic() - started
        # The module's process has exited: its connection's record follows at once.
        deadline = time.monotonic() + 10
        while not self.counts.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        requests = {}
        for line in self.counts.read_text().splitlines():
            for operation, count in json.loads(line)["requests"].items():
                requests[operation] = requests.get(operation, 0) + count
        print("%s (%d objects): %s in %.1f s" % (module, len(args.get("targets") or args.get("registrations")),
                                                 requests, elapsed))
        return result, requests

    def close(self):
        self.process.terminate()
        self.process.wait()


@pytest.fixture
def relay(lab, tmp_path):
    counting = CountingRelay(lab, tmp_path)
    yield counting
    counting.close()


def create_users(lab, prefix, count):
    """Plain users PREFIX00.. under CN=Users, made anew: {name: dn}."""
    admin = lab.bind_admin()
    users = {}
    for number in range(count):
        name = "%s%02d" % (prefix, number)
        dn = "CN=%s,CN=Users,%s" % (name, lab.base_dn)
        admin.delete(dn)
        assert admin.add(dn, ["top", "person", "organizationalPerson", "user"], {"sAMAccountName": name}), admin.result
        users[name] = dn
    return users


def delete_users(lab, users):
    admin = lab.bind_admin()
    for dn in users.values():
        admin.delete(dn)


def dacl(lab, dn):
    return subprocess.run(["samba-tool", "dsacl", "get", "-H", str(lab.dir / "private" / "sam.ldb"),
                           "--objectdn=" + dn], capture_output=True, text=True, check=True).stdout.upper()


def test_spn_acl_searches_do_not_grow_with_the_accounts_granted(lab, run_module, relay):
    searches = {}
    for size in SIZES:
        users = create_users(lab, "batchacl", size)
        try:
            result, requests = relay.run(run_module, "sqlauth.kerberos.spn_acl", dict(
                lab.connection, targets=[dict(account="CORP\\" + name) for name in users]))
            assert not result["failed"], result
            assert [target["changed"] for target in result["targets"]] == [True] * size
            assert not result.get("warnings"), result["warnings"]
            for dn in users.values():
                assert all(ace.upper() in dacl(lab, dn) for ace in SPN_ACES), dn
            # Samba's refusal of the value delete (once), a first guard token and a guarded replace each.
            assert requests["modify"] == 1 + 2 * size, requests
            searches[size] = requests["search"]
        finally:
            delete_users(lab, users)
    print("spn_acl searches by accounts granted: %s" % searches)
    assert searches[SIZES[0]] == searches[SIZES[-1]], searches


def test_spn_register_searches_do_not_grow_with_the_spns_moved(lab, run_module, relay):
    """batchspnNN takes two SPNs from batcholdNN: one held there alone (a
    plain move), one held by both (a legacy duplicate, written straight
    into the DC's partition file as the seed does)."""
    partition = lab.dir / "private" / "sam.ldb.d" / ("%s.ldb" % lab.base_dn.upper())
    searches = {}
    for size in SIZES:
        targets, holders = create_users(lab, "batchspn", size), create_users(lab, "batchold", size)
        try:
            admin = lab.bind_admin()
            spns = {}
            for number, (target, holder) in enumerate(zip(targets.values(), holders.values())):
                moved = "MSSQLSvc/batchmove%02d.corp.example.test:1433" % number
                duplicate = "MSSQLSvc/batchdup%02d.corp.example.test:1433" % number
                assert admin.modify(holder, {"servicePrincipalName": [("MODIFY_ADD", [moved, duplicate])]}), \
                    admin.result
                subprocess.run(["ldbmodify", "-H", str(partition)], text=True, check=True, capture_output=True,
                               input="dn: %s\nchangetype: modify\nadd: servicePrincipalName\n"
                                     "servicePrincipalName: %s\n" % (target, duplicate))
                spns[target] = [moved, duplicate]
            result, requests = relay.run(run_module, "sqlauth.kerberos.spn_register", dict(
                lab.connection, move=True,
                registrations=[dict(account="CORP\\" + name, spns=spns[dn]) for name, dn in targets.items()]))
            assert not result["failed"], result
            assert len(result["removed"]) == 2 * size and len(result["added"]) == size, result
            assert not result.get("warnings"), result["warnings"]
            for number, name in enumerate(targets):
                assert lab.spns_of(name) == sorted(spns[targets[name]]), name
                assert lab.spns_of("batchold%02d" % number) == [], name
            searches[size] = requests["search"]
        finally:
            delete_users(lab, targets)
            delete_users(lab, holders)
    print("spn_register searches by SPNs moved (half of them legacy duplicates): %s" % searches)
    assert searches[SIZES[0]] == searches[SIZES[-1]], searches
