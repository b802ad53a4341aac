# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linked-server callers (_callers): which users and group members the KDC
never delegates (sensitive, Protected Users), over the fake directory of
test_spn_audit, which evaluates the filters sent (in-chain membership, the
userAccountControl bit test, primary groups) the way a DC does."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._callers import check_callers, parse_callers
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_spn_audit import (
    DOMAIN_SID,
    FakeDirectory,
    corp_groups,
    corp_user,
    group_entry,
)

PROTECTED_DN = "CN=Protected Users,CN=Users,DC=corp,DC=example,DC=com"
ANALYSTS_DN = "CN=Analysts,OU=Groups,DC=corp,DC=example,DC=com"
TEAM_DN = "CN=Sales Team,OU=Groups,DC=corp,DC=example,DC=com"


def sensitive(entry):
    entry.raw["useraccountcontrol"] = [b"1049088"]  # NORMAL_ACCOUNT | NOT_DELEGATED
    return entry


@pytest.fixture
def directory():
    return FakeDirectory([
        group_entry(PROTECTED_DN, "Protected Users", "%s-525" % DOMAIN_SID),
        group_entry(ANALYSTS_DN, "Analysts", "%s-1300" % DOMAIN_SID),
        group_entry(TEAM_DN, "Sales Team", "%s-1301" % DOMAIN_SID, member_of=[ANALYSTS_DN]),
        corp_user("alice", 1201, member_of=[ANALYSTS_DN]),
        sensitive(corp_user("bob", 1202, member_of=[TEAM_DN])),              # nested in Analysts
        corp_user("carol", 1203, member_of=[TEAM_DN, PROTECTED_DN]),
        corp_user("dave", 1204, primary_group_id=1300),                      # Analysts as primary group
        sensitive(corp_user("erin", 1205, primary_group_id=1300)),
        sensitive(corp_user("frank", 1206)),
    ] + corp_groups(), one_domain=True)


def test_callers_name_the_users_the_kdc_never_delegates(directory):
    results = check_callers(directory, parse_callers(["CORP\\alice", "CORP\\Analysts", "frank@corp.example.com"]))
    assert results == [
        dict(input="CORP\\alice", name="CORP\\alice", kind="user", blocked=[]),
        dict(input="CORP\\Analysts", name="CORP\\Analysts", kind="group", blocked=[
            dict(name="CORP\\bob", reasons=["sensitive"]), dict(name="CORP\\carol", reasons=["protected_users"]),
            dict(name="CORP\\erin", reasons=["sensitive"])]),
        dict(input="frank@corp.example.com", name="CORP\\frank", kind="user",
             blocked=[dict(name="CORP\\frank", reasons=["sensitive"])])]
    # The names in one search, Protected Users in one, the users' membership of it, one per group.
    assert len(directory.searches) <= 5


def test_a_protected_user_named_directly(directory):
    [carol] = check_callers(directory, parse_callers(["CORP\\carol"]))
    assert carol["blocked"] == [dict(name="CORP\\carol", reasons=["protected_users"])]


def test_unknown_callers_fail_naming_them(directory):
    with pytest.raises(AccountError, match=r"caller 'CORP\\\\nobody' matches no user or group of CORP"):
        check_callers(directory, parse_callers(["CORP\\nobody", "CORP\\alice"]))


def test_bad_caller_names_fail_before_any_search():
    with pytest.raises(AccountError, match=r"caller 'LocalSystem': 'LocalSystem' is the host's computer account"):
        parse_callers(["CORP\\alice", "LocalSystem"])
    assert check_callers(FakeDirectory(), []) == []
