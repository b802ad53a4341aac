"""Proves a drift report's estate with the lab KDC, not with the collection's
word: for every required SPN of the report, alice gets a service ticket and it
is encrypted with the key of the instance's service account; for every linked
server, the front end's account gets a ticket to the back end's SPN on behalf
of alice (S4U2Self + S4U2Proxy, the double hop). What the report itself says
the KDC refuses is proven refused: tickets for a locked-out account's SPNs,
the delegation of a front end marked sensitive. A linked server whose ends
run as one account needs no delegation and is not tried; stale SPNs are not
required. Prints one line per proof; exits 1 if any fails.

    prove.py --lab LAB_DIR REPORT.json
"""
import argparse
import json
import sys
import tempfile

from kdc import Kdc, LabFacts


def sam_account_name(account):
    """CORP\\sqlsvc1 -> sqlsvc1"""
    return account.split("\\", 1)[-1]


def linked_server_spn(instance, host):
    """The SPN a linked server asks for: host:port over TCP, host:INSTANCE without a static port."""
    port = instance["port"]
    return "MSSQLSvc/%s:%s" % (host, port if str(port).isdigit() else instance["instance"])


def proofs(report):
    """(kind, subject, account, spn, refused) for every required SPN and every
    linked server of the report; ``refused``: what the KDC must answer
    instead of a ticket, or None."""
    instances = {}
    for host in report["hosts"]:
        for instance in host["instances"]:
            instances[instance["name"].lower()] = (host["host"], instance)
    for host, instance in instances.values():
        locked = any(c["check"] == "account" and c["status"] == "account_locked" for c in instance["checks"])
        for check in instance["checks"]:
            if check["check"] == "spn" and check["status"] != "stale":
                yield ("ticket", check["subject"], instance["service_account"], check["subject"],
                       "Credentials for server have been revoked" if locked else None)
            elif check["check"] == "delegation" and not check["subject"].endswith(": callers") \
                    and not check["detail"].startswith("same account"):
                back_host, back = instances[check["subject"].split(" -> ")[1].lower()]
                yield ("double hop", check["subject"], instance["service_account"],
                       linked_server_spn(back, back_host),
                       "constrained delegation failed" if check["status"] == "front_end_sensitive" else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("report")
    options = parser.parse_args()
    with open(options.report, encoding="utf-8") as handle:
        report = json.load(handle)
    lab = LabFacts(options.lab)
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        kdc = Kdc(lab, work)
        for kind, subject, account, spn, refused in proofs(report):
            name = sam_account_name(account)
            if kind == "ticket":
                kdc.kinit("alice")
                granted, output = kdc.kvno(spn)
                if granted and not refused and name in lab.accounts and lab.accounts[name].get("password"):
                    granted = kdc.decrypts(spn, name)
                    output = "encrypted with %s's key" % account if granted else \
                        "NOT encrypted with %s's key" % account
                shown = spn
            else:
                granted, output, dummy = kdc.double_hop(name, spn)
                output = "%s may act for alice at %s" % (account, spn) if granted else output
                shown = subject
            last = output.splitlines()[-1] if output else ""
            if refused:
                ok = not granted and refused in output
                line = "%-10s %-48s %s" % (kind, shown, ("refused, as the report says: " + last) if ok
                                           else "NOT REFUSED: " + last)
            else:
                ok = granted
                line = "%-10s %-48s %s" % (kind, shown, output if ok else "REFUSED: " + last)
            print(("ok    " if ok else "FAIL  ") + line)
            failures += not ok
    print("%s: %d failed" % ("KDC proofs", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
