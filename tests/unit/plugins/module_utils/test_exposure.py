# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who else may write a SQL service account or host: the rights read from
descriptors the lab DC wrote (fixtures/security_descriptors.json), and
the drift report's exposure findings."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import (
    domain_exposure_checks,
    exposure_checks,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._exposure import (
    EVERYTHING,
    is_tier0,
    others_who_may_write,
    self_may_write_rbkcd,
    writers,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    Ace,
    SecurityDescriptor,
)

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
CAPTURED = FIXTURES["descriptors"]
DOMAIN_SID = FIXTURES["domain_sid"]
ACCOUNT_OPERATORS = "S-1-5-32-548"
HELPDESK = DOMAIN_SID + "-4101"
RBKCD_GUID = "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79"
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"


def captured(name):
    return SecurityDescriptor.from_bytes(base64.b64decode(CAPTURED[name]["base64"]))


def with_aces(descriptor, *sddl, owner=None):
    aces = list(descriptor.dacl) + [Ace.from_sddl(text) for text in sddl]
    return SecurityDescriptor(revision=descriptor.revision, control=descriptor.control,
                              owner_sid=owner or descriptor.owner_sid, group_sid=descriptor.group_sid, dacl=aces)


@pytest.mark.parametrize("name", ["user_without_spn_write_aces", "computer", "gmsa"])
def test_a_default_descriptor_exposes_the_object_to_account_operators_only(name):
    """As Samba (and Windows) create users, computers and gMSAs: tier 0, SELF,
    and Account Operators' full control."""
    entry = CAPTURED[name]
    found = others_who_may_write(captured(name), entry["object_sid"], entry["object_class_guid"], (DOMAIN_SID,))
    assert found == {ACCOUNT_OPERATORS: dict(what=[EVERYTHING], via=["ACE"])}


def test_a_helpdesk_grant_on_rbkcd_and_a_user_owner_are_named():
    descriptor = with_aces(captured("user_without_spn_write_aces"), "(OA;;RPWP;%s;;%s)" % (RBKCD_GUID, HELPDESK),
                           owner=DOMAIN_SID + "-4102")
    found = others_who_may_write(descriptor, CAPTURED["user_without_spn_write_aces"]["object_sid"], USER_CLASS,
                                 (DOMAIN_SID,))
    assert found[HELPDESK] == dict(what=["msDS-AllowedToActOnBehalfOfOtherIdentity"], via=["ACE"])
    assert found[DOMAIN_SID + "-4102"] == dict(what=["the DACL"], via=["owner"])


ALL_WATCHED = ["servicePrincipalName", "msDS-AllowedToActOnBehalfOfOtherIdentity", "msDS-KeyCredentialLink",
               "userAccountControl", "msDS-GroupMSAMembership"]
RESTRICTIONS = ["msDS-AllowedToActOnBehalfOfOtherIdentity", "userAccountControl"]


@pytest.mark.parametrize("sddl, what", [
    ("(A;;GW;;;%s)", ALL_WATCHED),
    ("(A;;WP;;;%s)", ALL_WATCHED),
    ("(A;;WD;;;%s)", ["the DACL"]),
    ("(A;;WO;;;%s)", ["the owner"]),
    ("(A;;GA;;;%s)", [EVERYTHING]),
    # The property set User-Account-Restrictions holds userAccountControl and the RBKCD attribute.
    ("(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;%s)", RESTRICTIONS),
    ("(OA;;WP;f3a64788-5306-11d1-a9c5-0000f80367c1;;%s)", ["servicePrincipalName"]),
    # Reset its password, or every extended right; a gMSA's password readers.
    ("(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;%s)", ["its password (reset)"]),
    ("(A;;CR;;;%s)", ["its password (reset)"]),
    ("(OA;;WP;888eedd6-ce04-df40-b462-b8a50e41ba38;;%s)", ["msDS-GroupMSAMembership"]),
])
def test_each_kind_of_grant(sddl, what):
    descriptor = with_aces(captured("user_without_spn_write_aces"), sddl % HELPDESK)
    assert writers(descriptor, USER_CLASS)[HELPDESK]["what"] == what


@pytest.mark.parametrize("sddl", [
    "(OA;;RP;%s;;{sid})" % RBKCD_GUID,                        # read only
    "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;{sid})",   # the validated SPN write: own host names only
    "(OA;;WP;bf967a7f-0de6-11d0-a285-00aa003049e2;;{sid})",   # another attribute (userCertificate)
    "(A;CIIO;GA;;;{sid})",                                    # inherit-only: for the objects below
    "(OA;;GA;;bf967a86-0de6-11d0-a285-00aa003049e2;{sid})",   # for computers, not this user
    "(D;;GA;;;{sid})",                                        # a deny grants nothing
])
def test_what_is_not_a_grant(sddl):
    descriptor = with_aces(captured("user_without_spn_write_aces"), sddl.format(sid=HELPDESK))
    assert HELPDESK not in writers(descriptor, USER_CLASS)


def test_tier0_self_and_exempt_are_not_reported():
    descriptor = with_aces(captured("user_without_spn_write_aces"), "(A;;GA;;;%s)" % HELPDESK)
    entry = CAPTURED["user_without_spn_write_aces"]
    found = others_who_may_write(descriptor, entry["object_sid"], USER_CLASS, (DOMAIN_SID,), exempt_sids={HELPDESK})
    assert HELPDESK not in found
    tier0 = ("S-1-5-18", "S-1-5-32-544", DOMAIN_SID + "-512", DOMAIN_SID + "-519", DOMAIN_SID + "-526")
    assert all(is_tier0(sid, (DOMAIN_SID,)) for sid in tier0)
    assert not is_tier0(ACCOUNT_OPERATORS) and not is_tier0(DOMAIN_SID + "-513")
    assert not is_tier0("S-1-5-21-9-9-9-512", (DOMAIN_SID,))


def test_self_rbkcd_from_the_domain_root():
    """The ACE Samba provisions at the domain root (samba-tool dsacl get)."""
    root = SecurityDescriptor(owner_sid=DOMAIN_SID + "-512", dacl=[
        Ace.from_sddl("(A;;GA;;;SY)"), Ace.from_sddl("(OA;OICI;RPWP;%s;;PS)" % RBKCD_GUID)])
    assert self_may_write_rbkcd(root)
    without = SecurityDescriptor(owner_sid=DOMAIN_SID + "-512", dacl=[Ace.from_sddl("(A;;GA;;;SY)")])
    assert not self_may_write_rbkcd(without)


# -- the drift report ----------------------------------------------------------------

ACCOUNT_DN = "CN=sqlsvc2,CN=Users,DC=corp,DC=example,DC=test"
HOST_DN = "CN=SQL2,CN=Computers,DC=corp,DC=example,DC=test"


def report(writers_found, host=None):
    return dict(service_account=dict(name="CORP\\sqlsvc2", dn=ACCOUNT_DN, writers=writers_found), host_computer=host)


def writer(name, kind="group", via=("ACE",), what=("msDS-AllowedToActOnBehalfOfOtherIdentity",), members=()):
    return dict(sid="S-1-5-21-1-2-3-4101", name=name, kind=kind, what=list(what), via=list(via),
                members=list(members) if kind == "group" else None,
                member_count=len(members) if kind == "group" else None)


def test_exposure_findings_name_each_writer_and_the_fix():
    found = exposure_checks(report([writer("CORP\\Helpdesk", members=["CORP\\dave"]),
                                    writer("BUILTIN\\Account Operators", what=[EVERYTHING])],
                                   host=dict(name="CORP\\SQL2$", dn=HOST_DN, creator=dict(sid="x", name="CORP\\dave"),
                                             writers=[writer("CORP\\dave", kind="user", via=["owner"],
                                                             what=["the DACL"])])))
    assert [(c["status"], c["subject"]) for c in found] == [
        ("writable_by_others", "CORP\\sqlsvc2"), ("host_writable_by_others", "CORP\\SQL2$"),
        ("creator_recorded", "CORP\\SQL2$")]
    account, host, creator = found
    assert account["detail"] == ("CORP\\Helpdesk (CORP\\dave) may write msDS-AllowedToActOnBehalfOfOtherIdentity (ACE); "
                                 "BUILTIN\\Account Operators (no members now) may write everything (ACE)")
    assert [line for line in account["commands"] if not line.startswith("#")] == [
        "dsacls '%s' /R 'CORP\\Helpdesk'" % ACCOUNT_DN, "dsacls '%s' /R 'BUILTIN\\Account Operators'" % ACCOUNT_DN]
    assert account["commands"][0].startswith("# dsacls /R removes every explicit ACE of CORP\\Helpdesk")
    assert host["commands"] == ["# Make Domain Admins the owner of %s (it is CORP\\dave)." % HOST_DN]
    assert creator["detail"] == "created by CORP\\dave (ms-DS-CreatorSID)"


def test_an_object_whose_descriptor_was_not_read_is_skipped_not_ok():
    (check,) = exposure_checks(dict(service_account=dict(name="EMEA\\sqlsvc", dn=ACCOUNT_DN, writers=None)))
    assert (check["result"], check["status"]) == ("skipped", "skipped")
    assert exposure_checks(dict(service_account=dict(name="CORP\\sqlsvc2", dn=ACCOUNT_DN))) == []


def test_no_other_writer_is_ok_and_an_account_that_is_the_host_is_checked_once():
    found = exposure_checks(dict(service_account=dict(name="CORP\\SQL6$", dn=HOST_DN, writers=[]),
                                 host_computer=dict(name="CORP\\SQL6$", dn=HOST_DN, writers=[], creator=None)))
    assert [(c["status"], c["result"]) for c in found] == [("ok", "ok")]


def test_domain_checks():
    found = domain_exposure_checks(dict(name="corp.example.test", self_may_write_rbkcd=True, machine_account_quota=10))
    assert [(c["status"], c["subject"]) for c in found] == [("self_rbkcd", "corp.example.test"),
                                                            ("machine_account_quota", "corp.example.test")]
    assert found[1]["commands"] == ["Set-ADDomain -Identity 'corp.example.test' -Replace "
                                    "@{'ms-DS-MachineAccountQuota'=0}"]
    assert [c["status"] for c in domain_exposure_checks(dict(self_may_write_rbkcd=False,
                                                             machine_account_quota=0))] == ["ok", "ok"]
    assert domain_exposure_checks({}) == []


def test_byte_identical_descriptors_are_parsed_once(monkeypatch):
    """Accounts created alike share their descriptor's bytes: the exposure
    audit parses each distinct one once (the benchmark's profile), and a
    descriptor that does not parse is still an error naming the object."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils import _exposure_audit
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import DirectoryEntry
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import SecurityDescriptorError

    monkeypatch.setattr(_exposure_audit, "_DESCRIPTORS", {})
    parsed = []
    original = SecurityDescriptor.from_bytes

    def counting(data):
        parsed.append(data)
        return original(data)

    monkeypatch.setattr(_exposure_audit.SecurityDescriptor, "from_bytes", counting)
    raw = base64.b64decode(CAPTURED["user_without_spn_write_aces"]["base64"])
    entries = [DirectoryEntry("CN=svc%d,OU=SQL,DC=corp,DC=example,DC=com" % n, {"nTSecurityDescriptor": [raw]})
               for n in range(3)]
    descriptors = [_exposure_audit._descriptor(entry, "svc") for entry in entries]
    assert len(parsed) == 1
    assert all(d.to_bytes() == original(raw).to_bytes() for d in descriptors)
    assert _exposure_audit._descriptor(DirectoryEntry("CN=x,DC=corp", {}), "x") is None
    with pytest.raises(SecurityDescriptorError, match="CN=bad,DC=corp"):
        _exposure_audit._descriptor(DirectoryEntry("CN=bad,DC=corp", {"nTSecurityDescriptor": [b"\x01\x00"]}), "bad")
