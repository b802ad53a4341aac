# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group expansion (_group_membership): the privileged groups found by
well-known SID, memberships direct, by primary group and through nested
groups, and the searches it costs, on the in-memory directory of
test_spn_audit, which evaluates the filters it is sent (in-chain matching
included), keeps member as the forward link of memberOf, and records
them."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import Member
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import (
    GROUP_ATTRIBUTES,
    IN_CHAIN,
    domain_sid,
    find_groups,
    members_of_groups,
    privileged_group_sids,
    privileged_memberships,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_BYTES,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import sid_from_bytes
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.module_utils.test_spn_audit import (
    ACCOUNT_OPERATORS_DN,
    ADMINISTRATORS_DN,
    CORP,
    DOMAIN_ADMINS_DN,
    DOMAIN_SID,
    GMSA_CLASSES,
    FakeDirectory,
    corp_groups,
    corp_user,
    directory_entry,
    group_entry,
)

PRIVILEGED = privileged_group_sids([DOMAIN_SID])
SQL_ADMINS_DN = "CN=SQL Admins,OU=Groups,DC=corp,DC=example,DC=com"
ENTERPRISE_ADMINS_DN = "CN=Enterprise Admins,CN=Users,DC=corp,DC=example,DC=com"
SCHEMA_ADMINS_DN = "CN=Schema Admins,CN=Users,DC=corp,DC=example,DC=com"


def sid(rid):
    return "%s-%d" % (DOMAIN_SID, rid)


def forest_root_groups():
    """Enterprise and Schema Admins, which only the forest root domain has."""
    return [group_entry(ENTERPRISE_ADMINS_DN, "Enterprise Admins", sid(519), member_of=[ADMINISTRATORS_DN]),
            group_entry(SCHEMA_ADMINS_DN, "Schema Admins", sid(518))]


def accounts_of(directory, *rids):
    """{SID: Member} of the directory's accounts with these RIDs, as the
    callers pass them (DN and primaryGroupID read with the account)."""
    sids = {sid(rid).upper() for rid in rids}
    found = {}
    for entry in directory.entries:
        account_sid = sid_from_bytes(entry.binary("objectSid"))[0]
        if account_sid.upper() in sids:
            primary = entry.value("primaryGroupID")
            found[account_sid] = Member(entry.dn, int(primary) if primary else None)
    assert len(found) == len(sids)
    return found


def summaries(result):
    return {account: [(m.group.name, m.via) for m in memberships] for account, memberships in result.items()}


def sid_terms(ldap_filter):
    return ldap_filter.count("(objectSid=")


# -- the privileged groups -------------------------------------------------------------

def test_privileged_groups_by_well_known_sid():
    assert privileged_group_sids(["S-1-5-21-1-2-3"]) == [
        "S-1-5-21-1-2-3-512", "S-1-5-21-1-2-3-519", "S-1-5-21-1-2-3-518", "S-1-5-32-544", "S-1-5-32-548"]
    assert domain_sid("S-1-5-21-1-2-3-1105") == "S-1-5-21-1-2-3"
    assert domain_sid("S-1-5-32-544") is None and domain_sid("S-1-5-18") is None


def test_groups_are_resolved_in_one_search_and_missing_ones_skipped():
    directory = FakeDirectory(corp_groups())

    groups = find_groups(directory, PRIVILEGED)

    # A child domain has no Enterprise or Schema Admins: they are left out.
    assert sorted(group.name for group in groups.values()) == [
        "BUILTIN\\Account Operators", "BUILTIN\\Administrators", "CORP\\Domain Admins"]
    assert groups[sid(512)].dn == DOMAIN_ADMINS_DN and groups[sid(512)].member_of[0] == ADMINISTRATORS_DN
    (search,) = directory.searches
    assert search.base == CORP["dn"] and not search.global_catalog
    assert search.ldap_filter.startswith("(&(objectClass=group)(|(objectSid=")
    assert sid_terms(search.ldap_filter) == 5


# -- memberships: direct, primary group, nested --------------------------------------------

@pytest.fixture
def corp():
    return FakeDirectory(corp_groups() + [
        group_entry(SQL_ADMINS_DN, "SQL Admins", sid(1500), member_of=[ACCOUNT_OPERATORS_DN]),
        corp_user("direct", 2001, member_of=[DOMAIN_ADMINS_DN]),
        # Domain Admins as primary group: in no memberOf, which in-chain matching follows.
        corp_user("primary", 2002, primary_group_id=512),
        corp_user("nested", 2003, member_of=[SQL_ADMINS_DN]),
        corp_user("both", 2004, member_of=[ADMINISTRATORS_DN, SQL_ADMINS_DN]),
        corp_user("plain", 2005),
        directory_entry("CN=gmsa-sql,CN=Managed Service Accounts,DC=corp,DC=example,DC=com", "gmsa-sql$",
                        sid(2006), GMSA_CLASSES, member_of=[DOMAIN_ADMINS_DN]),
    ])


def test_memberships_direct_primary_and_nested(corp):
    result = privileged_memberships(corp, accounts_of(corp, *range(2001, 2007)))

    assert summaries(result) == {
        sid(2001): [("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "member")],
        sid(2002): [("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "primary_group")],
        sid(2003): [("BUILTIN\\Account Operators", "nested")],
        sid(2004): [("BUILTIN\\Account Operators", "nested"), ("BUILTIN\\Administrators", "member")],
        sid(2005): [],
        sid(2006): [("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "member")],
    }
    assert result[sid(2001)][1].summary() == dict(group="CORP\\Domain Admins", dn=DOMAIN_ADMINS_DN, sid=sid(512),
                                                  via="member")
    groups, nested = corp.searches
    # The groups nested in the privileged ones (in-chain, groups only); the primary group
    # comes with the accounts (Member), never from a search that could return a whole domain.
    assert nested.ldap_filter == "(&(objectClass=group)(|(memberOf:%s:=%s)(memberOf:%s:=%s)(memberOf:%s:=%s)))" % (
        IN_CHAIN, ACCOUNT_OPERATORS_DN, IN_CHAIN, ADMINISTRATORS_DN, IN_CHAIN, DOMAIN_ADMINS_DN)
    assert "objectSid=" not in nested.ldap_filter and "primaryGroupID" not in nested.ldap_filter
    assert all(s.base == CORP["dn"] for s in corp.searches)
    assert groups.attributes == nested.attributes == GROUP_ATTRIBUTES == [
        "objectSid", "sAMAccountName", "memberOf", "member", "whenCreated"]


def test_no_privileged_account_costs_two_searches(corp):
    result = privileged_memberships(corp, accounts_of(corp, 2005))
    assert result == {sid(2005): []}
    assert len(corp.searches) == 2


def test_primary_group_alone_makes_a_member(corp):
    result = members_of_groups(corp, accounts_of(corp, 2002), [sid(512)])
    assert summaries(result) == {sid(2002): [("CORP\\Domain Admins", "primary_group")]}
    # Domain Users (513), every user's primary group, is not Domain Admins.
    assert members_of_groups(corp, accounts_of(corp, 2005), [sid(512)]) == {sid(2005): []}


def test_enterprise_and_schema_admins_in_the_forest_root():
    directory = FakeDirectory(corp_groups() + forest_root_groups() + [
        corp_user("ea", 2101, member_of=[ENTERPRISE_ADMINS_DN]),
        corp_user("sa", 2102, primary_group_id=518, member_of=[]),
    ])

    result = privileged_memberships(directory, accounts_of(directory, 2101, 2102))

    assert summaries(result) == {
        sid(2101): [("BUILTIN\\Administrators", "nested"), ("CORP\\Enterprise Admins", "member")],
        sid(2102): [("CORP\\Schema Admins", "primary_group")],
    }
    nested = directory.searches[1]
    assert ENTERPRISE_ADMINS_DN in nested.ldap_filter and SCHEMA_ADMINS_DN in nested.ldap_filter


def test_enterprise_and_schema_admins_absent_are_not_searched(corp):
    privileged_memberships(corp, accounts_of(corp, 2005))
    nested = corp.searches[1]
    assert "Enterprise Admins" not in nested.ldap_filter and "Schema Admins" not in nested.ldap_filter


def test_a_primary_group_of_another_domain_is_not_a_membership(corp):
    # An EMEA account whose primaryGroupID is 512 is in EMEA's Domain Admins, not CORP's.
    corp.entries.append(directory_entry("CN=emea-admin,OU=Service Accounts,DC=corp,DC=example,DC=com",
                                        "emea-admin", "S-1-5-21-9-9-9-2301", primary_group_id=512))
    result = privileged_memberships(corp, {"S-1-5-21-9-9-9-2301": Member(corp.entries[-1].dn, 512)})
    assert result == {"S-1-5-21-9-9-9-2301": []}


# -- the searches stay few, whatever the number of accounts --------------------------------

def test_1200_accounts_cost_two_searches_of_the_same_size():
    entries = corp_groups() + [corp_user("svc%04d" % n, 3000 + n) for n in range(1200)]
    entries[-1].raw["memberof"] = [DOMAIN_ADMINS_DN.encode()]
    directory = FakeDirectory(entries)
    accounts = accounts_of(directory, *range(3000, 4200))

    result = privileged_memberships(directory, accounts)

    groups, nested = directory.searches
    assert summaries(result)[sid(4199)] == [("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "member")]
    assert sum(bool(memberships) for memberships in result.values()) == 1
    # The filters name groups, not accounts: the same for 1 account or 1,200.
    directory.searches = []
    privileged_memberships(directory, accounts_of(directory, 3000))
    assert [s.ldap_filter for s in directory.searches] == [groups.ldap_filter, nested.ldap_filter]
    assert all(len(s.ldap_filter.encode()) < MAX_FILTER_BYTES for s in (groups, nested))


def test_member_dns_are_matched_whatever_their_case(corp):
    upper = {account_sid: Member(m.dn.upper(), m.primary_group) for account_sid, m in accounts_of(corp, 2001).items()}
    result = privileged_memberships(corp, upper)
    assert summaries(result) == {sid(2001): [("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "member")]}


def test_nothing_to_check_costs_nothing(corp):
    assert privileged_memberships(corp, {}) == {}
    assert members_of_groups(corp, {}, PRIVILEGED) == {}
    assert corp.searches == []


def test_no_group_found_costs_one_search():
    directory = FakeDirectory([corp_user("plain", 2005)])
    assert privileged_memberships(directory, accounts_of(directory, 2005)) == {sid(2005): []}
    assert len(directory.searches) == 1


# -- any group: the helper other checks use -------------------------------------------------

def test_any_group_with_escaped_names_and_nesting_cycles():
    callers_dn = "CN=SQL Callers (Tier 1)\\, EU,OU=Groups,DC=corp,DC=example,DC=com"
    loop_a = "CN=Loop A,OU=Groups,DC=corp,DC=example,DC=com"
    loop_b = "CN=Loop B,OU=Groups,DC=corp,DC=example,DC=com"
    directory = FakeDirectory([
        group_entry(callers_dn, "SQL Callers", sid(1600)),
        group_entry(loop_a, "Loop A", sid(1601), member_of=[loop_b, callers_dn]),
        group_entry(loop_b, "Loop B", sid(1602), member_of=[loop_a]),
        corp_user("app", 2201, member_of=[loop_b]),
        corp_user("other", 2202, member_of=[loop_a]),
        corp_user("nobody", 2203),
    ])

    result = members_of_groups(directory, accounts_of(directory, 2201, 2202, 2203), [sid(1600)])

    assert summaries(result) == {sid(2201): [("CORP\\SQL Callers", "nested")],
                                 sid(2202): [("CORP\\SQL Callers", "nested")], sid(2203): []}
    # The DN is escaped in the in-chain term (the fake refuses a filter that is not).
    assert "(memberOf:%s:=%s)" % (IN_CHAIN, escape_filter_value(callers_dn)) in directory.searches[1].ldap_filter
    assert "\\5c, EU" in directory.searches[1].ldap_filter
    # The loop's groups are read in the one search of nested groups.
    assert len(directory.searches) == 2


def test_account_sids_are_kept_as_given(corp):
    lower = {account_sid.lower(): dn for account_sid, dn in accounts_of(corp, 2002).items()}
    result = privileged_memberships(corp, lower)
    assert list(result) == list(lower) and [(m.group.name, m.via) for m in result[sid(2002).lower()]] == [
        ("BUILTIN\\Administrators", "nested"), ("CORP\\Domain Admins", "primary_group")]


def test_domain_users_as_the_group_asked_about_returns_no_user():
    """A gMSA's readers may be Domain Computers (515) or Domain Users (513):
    the search returns groups only, never every account of that primary
    group; membership by primary group comes from the accounts' own
    primaryGroupID."""
    domain_users_dn = "CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com"
    directory = FakeDirectory(corp_groups() + [group_entry(domain_users_dn, "Domain Users", sid(513))]
                              + [corp_user("staff%03d" % n, 4000 + n) for n in range(50)])
    result = members_of_groups(directory, accounts_of(directory, 4000), [sid(513)])
    assert summaries(result) == {sid(4000): [("CORP\\Domain Users", "primary_group")]}
    assert all("primaryGroupID" not in s.ldap_filter for s in directory.searches)
