# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account names as DBAs write them, and how they match directory entries.

``resolve_accounts`` (the I/O part) is exercised with a fake directory in
test_spn_audit.py."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    ACCOUNT_ATTRIBUTES,
    Account,
    AccountError,
    AccountReference,
    _index_candidates,
    _near,
    account_from_entry,
    ambiguous_short_names,
    match_accounts,
    normalize_dn,
    note_ambiguous_names,
    parse_account_reference,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import sid_to_bytes

HOST = "sql01.corp.example.com"
DOMAIN_DNS = "corp.example.com"
DOMAIN_SID = "S-1-5-21-1020015842-2994946861-1214793674"
USER_CLASSES = ("top", "person", "organizationalPerson", "user")
COMPUTER_CLASSES = USER_CLASSES + ("computer",)
GMSA_CLASSES = COMPUTER_CLASSES + ("msDS-GroupManagedServiceAccount",)
MSA_CLASSES = COMPUTER_CLASSES + ("msDS-ManagedServiceAccount",)


def account(sam, rid, classes=USER_CLASSES, upn=None, dns_host_name=None, dn=None):
    return Account(dn=dn or "CN=%s,OU=Service Accounts,DC=corp,DC=example,DC=com" % sam.rstrip("$"),
                   sid="%s-%d" % (DOMAIN_SID, rid), sam_account_name=sam, domain_netbios="CORP", upn=upn,
                   object_classes=list(classes), dns_host_name=dns_host_name)


# -- parse_account_reference: accepted forms -------------------------------------

@pytest.mark.parametrize("text, kind, value, domain", [
    # sAMAccountName, DOMAIN\name, gMSA name$
    ("sqlsvc", "sam", "sqlsvc", None),
    ("  sqlsvc  ", "sam", "sqlsvc", None),
    ("sql(prod)", "sam", "sql(prod)", None),
    ("CORP\\sqlsvc", "sam", "sqlsvc", "CORP"),
    ("corp.example.com\\sqlsvc", "sam", "sqlsvc", "corp.example.com"),
    ("gmsa-sql$", "sam", "gmsa-sql$", None),
    ("CORP\\gmsa-sql$", "sam", "gmsa-sql$", "CORP"),
    # UPN, explicit or implicit
    ("sqlsvc@corp.example.com", "upn", "sqlsvc@corp.example.com", None),
    ("SqlSvc@Example.COM", "upn", "SqlSvc@Example.COM", None),
    # Distinguished names. Regression: a DN with an escaped comma used to be read as DOMAIN\name
    # (domain "CN=Doe"), and one with '@' in its RDN as a UPN.
    ("CN=sqlsvc,OU=Service Accounts,DC=corp,DC=example,DC=com", "dn",
     "CN=sqlsvc,OU=Service Accounts,DC=corp,DC=example,DC=com", None),
    ("cn=sqlsvc, ou=Svc, dc=corp", "dn", "cn=sqlsvc, ou=Svc, dc=corp", None),
    ("CN=Doe\\, John,OU=Svc,DC=corp,DC=example,DC=com", "dn", "CN=Doe\\, John,OU=Svc,DC=corp,DC=example,DC=com",
     None),
    ("CN=sql@prod,OU=Svc,DC=corp", "dn", "CN=sql@prod,OU=Svc,DC=corp", None),
    # SIDs, upper-cased
    (DOMAIN_SID + "-1105", "sid", DOMAIN_SID + "-1105", None),
    ("s-1-5-21-1-2-3-500", "sid", "S-1-5-21-1-2-3-500", None),
])
def test_parse_account_reference(text, kind, value, domain):
    reference = parse_account_reference(text, HOST)
    assert reference == AccountReference(text, kind, value, domain)
    # The host is only needed for host identities.
    assert parse_account_reference(text) == reference


@pytest.mark.parametrize("text", [
    "LocalSystem",
    "localsystem",
    ".\\LocalSystem",
    "SYSTEM",
    "NT AUTHORITY\\SYSTEM",
    "nt authority\\system",
    "S-1-5-18",
    "NetworkService",
    "Network Service",
    "NT AUTHORITY\\NETWORK SERVICE",
    "NT AUTHORITY\\NetworkService",
    "S-1-5-20",
    "NT SERVICE\\MSSQLSERVER",
    "NT SERVICE\\MSSQL$SALES",
    "nt service\\sqlserveragent",
    "S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003",
    "  NT AUTHORITY\\SYSTEM  ",
])
def test_service_identities_are_the_host_computer(text):
    assert parse_account_reference(text, "SQL01.Corp.Example.com.") == AccountReference(text, "host_computer", HOST)


@pytest.mark.parametrize("text", ["LocalSystem", "NT AUTHORITY\\NETWORK SERVICE", "NT SERVICE\\MSSQLSERVER",
                                  "S-1-5-18"])
def test_service_identities_need_the_host(text):
    with pytest.raises(AccountError, match="is the host's computer account; the host's FQDN is needed"):
        parse_account_reference(text)


def test_service_identity_with_a_bad_host():
    with pytest.raises(AccountError, match="is an IP address"):
        parse_account_reference("LocalSystem", "10.0.0.5")


@pytest.mark.parametrize("text", ["LocalService", "Local Service", "NT AUTHORITY\\LOCAL SERVICE",
                                  "NT AUTHORITY\\LocalService", "S-1-5-19"])
def test_local_service_presents_anonymous_credentials(text):
    with pytest.raises(AccountError, match="presents anonymous credentials on the network, so clients cannot "
                                           "use Kerberos with it"):
        parse_account_reference(text, HOST)


@pytest.mark.parametrize("text, host", [
    (".\\sqlsvc", HOST),
    (".\\sqlsvc", None),
    ("SQL01\\sqlsvc", HOST),
    ("sql01\\sqlsvc", "SQL01.CORP.EXAMPLE.COM"),
])
def test_local_accounts_are_rejected(text, host):
    with pytest.raises(AccountError, match="is a local account of the host; it has no Kerberos identity in AD"):
        parse_account_reference(text, host)


@pytest.mark.parametrize("text", ["CORP\\{{ q('pipe','id') }}", "{{q('pipe','id')}}", "CORP\\svc*", "CORP\\a\nb"])
def test_names_with_characters_a_sam_account_name_cannot_have_are_rejected(text):
    # DOMAIN\\name too: discovery checks what a service connection point says with this parser.
    with pytest.raises(AccountError, match="contains characters a sAMAccountName cannot have"):
        parse_account_reference(text, HOST)


def test_host_name_prefix_is_only_local_for_that_host():
    # SQL01\x is a local account on sql01, a domain named SQL01 anywhere else.
    assert parse_account_reference("SQL01\\sqlsvc", "sql02.corp.example.com").kind == "sam"


@pytest.mark.parametrize("text, message", [
    ("", "service account name is empty"),
    ("   ", "service account name is empty"),
    (None, "service account name is empty"),
    ("\\sqlsvc", "is not of the form DOMAIN\\\\name"),
    ("CORP\\", "is not of the form DOMAIN\\\\name"),
    ("CORP\\sub\\sqlsvc", "is not of the form DOMAIN\\\\name"),
    ("@corp.example.com", "is not a valid user principal name"),
    ("sqlsvc@", "is not a valid user principal name"),
    ("sql@svc@corp.example.com", "is not a valid user principal name"),
    ("=sqlsvc", "is not a valid distinguished name"),
    ("sql/svc", "contains characters a sAMAccountName cannot have"),
    ("sql*svc", "contains characters a sAMAccountName cannot have"),
    ("sql,svc", "contains characters a sAMAccountName cannot have"),
    ("sql:svc", "contains characters a sAMAccountName cannot have"),
    ("S-1-5-21-1-2-3-4294967296", "is not a valid SID"),
    ("S-1-5-21-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "is not a valid SID"),
])
def test_parse_account_reference_rejects(text, message):
    with pytest.raises(AccountError, match=message):
        parse_account_reference(text, HOST)


def test_account_error_is_a_value_error():
    assert issubclass(AccountError, ValueError)


# -- AccountReference.filter_terms -----------------------------------------------

@pytest.mark.parametrize("text, terms", [
    ("sqlsvc", ["(sAMAccountName=sqlsvc)", "(sAMAccountName=sqlsvc$)"]),
    ("CORP\\sqlsvc", ["(sAMAccountName=sqlsvc)", "(sAMAccountName=sqlsvc$)"]),
    ("gmsa-sql$", ["(sAMAccountName=gmsa-sql$)"]),
    ("sql(prod)", ["(sAMAccountName=sql\\28prod\\29)", "(sAMAccountName=sql\\28prod\\29$)"]),
    ("sqlsvc@corp.example.com", ["(userPrincipalName=sqlsvc@corp.example.com)", "(sAMAccountName=sqlsvc)"]),
    ("CN=sqlsvc,DC=corp", ["(distinguishedName=CN=sqlsvc,DC=corp)"]),
    ("CN=Doe\\, John (SQL),DC=corp", ["(distinguishedName=CN=Doe\\5c, John \\28SQL\\29,DC=corp)"]),
    ("S-1-5-21-1-2-3-1105",
     ["(objectSid=\\01\\05\\00\\00\\00\\00\\00\\05\\15\\00\\00\\00\\01\\00\\00\\00\\02\\00\\00\\00"
      "\\03\\00\\00\\00\\51\\04\\00\\00)"]),
    # HOST/fqdn, not dNSHostName: that attribute is not indexed (see filter_terms).
    ("NT SERVICE\\MSSQLSERVER", ["(servicePrincipalName=HOST/sql01.corp.example.com)", "(sAMAccountName=sql01$)"]),
])
def test_filter_terms(text, terms):
    assert parse_account_reference(text, HOST).filter_terms() == terms


def test_sid_filter_term_is_the_binary_sid():
    reference = parse_account_reference(DOMAIN_SID + "-1105")
    (term,) = reference.filter_terms()
    escaped = term[len("(objectSid="):-1]
    assert bytes(int(pair, 16) for pair in escaped.split("\\")[1:]) == sid_to_bytes(DOMAIN_SID + "-1105")


# -- AccountReference.pick -------------------------------------------------------

SQLSVC = account("sqlsvc", 1105, upn="sqlsvc@corp.example.com")
SQLSVC_COMPUTER = account("sqlsvc$", 1200, COMPUTER_CLASSES, dn="CN=sqlsvc,CN=Computers,DC=corp,DC=example,DC=com")
GMSA = account("gmsa-sql$", 1119, GMSA_CLASSES, dns_host_name="gmsa-sql.corp.example.com")
SQL01 = account("SQL01$", 1113, COMPUTER_CLASSES, dns_host_name="SQL01.corp.example.com")
SQL02 = account("SQL02$", 1114, COMPUTER_CLASSES)  # no dNSHostName yet
SQL01_TWIN = account("sql01$", 1300, COMPUTER_CLASSES, dn="CN=SQL01,OU=Old,DC=corp,DC=example,DC=com")
ALICE = account("alice", 1400, upn="sql@corp.example.com")  # UPN that looks like another account's name
SQL = account("sql", 1401)
OTHER_UPN = account("svc-a", 1402, upn="svc@partner.example.org")
OTHER_UPN_TWIN = account("svc-b", 1403, upn="SVC@partner.example.org")
SVC = account("svc", 1404)
ALL = (SQLSVC, SQLSVC_COMPUTER, GMSA, SQL01, SQL02, ALICE, SQL, OTHER_UPN, OTHER_UPN_TWIN, SVC)


def pick(text, candidates=ALL, host=HOST, dns_domain=DOMAIN_DNS):
    return parse_account_reference(text, host).pick(candidates, dns_domain)


@pytest.mark.parametrize("text, expected", [
    # An exact sAMAccountName beats the computer/gMSA name$.
    ("sqlsvc", [SQLSVC]),
    ("SQLSVC", [SQLSVC]),
    ("CORP\\sqlsvc", [SQLSVC]),
    ("sqlsvc$", [SQLSVC_COMPUTER]),
    # Without the $ a gMSA is still found.
    ("gmsa-sql", [GMSA]),
    ("CORP\\GMSA-SQL$", [GMSA]),
    ("nobody", []),
    # Explicit UPN beats the implicit one (alice's UPN is sql@, the account "sql" only implicitly).
    ("sql@corp.example.com", [ALICE]),
    ("SQL@CORP.EXAMPLE.COM", [ALICE]),
    ("sqlsvc@corp.example.com", [SQLSVC]),
    # Implicit UPN: sAMAccountName@ the domain's own DNS name.
    ("svc@corp.example.com", [SVC]),
    ("SVC@Corp.Example.Com", [SVC]),
    # ... but never for another suffix.
    ("svc@example.com", []),
    ("svc@sub.corp.example.com", []),
    ("sqlsvc@partner.example.org", []),
    # Two explicit UPN matches: both, the caller reports the ambiguity.
    ("svc@partner.example.org", [OTHER_UPN, OTHER_UPN_TWIN]),
    # DN: case and spaces around separators do not matter.
    ("cn=SQLSVC, ou=service accounts , dc=corp,dc=example,dc=com", [SQLSVC]),
    ("CN=sqlsvc,OU=Elsewhere,DC=corp,DC=example,DC=com", []),
    # SID
    (DOMAIN_SID + "-1105", [SQLSVC]),
    (DOMAIN_SID.lower() + "-1119", [GMSA]),
    (DOMAIN_SID + "-9999", []),
])
def test_pick(text, expected):
    assert pick(text) == expected


def test_pick_implicit_upn_needs_a_known_domain():
    assert pick("svc@corp.example.com", dns_domain=None) == []


@pytest.mark.parametrize("host, candidates, expected", [
    # By dNSHostName first (case-insensitively) ...
    (HOST, ALL, [SQL01]),
    (HOST, ALL + (SQL01_TWIN,), [SQL01]),
    # ... then by SHORT$ when no computer has the dNSHostName.
    ("sql02.corp.example.com", ALL, [SQL02]),
    ("sql01.corp.example.com", [SQL01_TWIN, SQLSVC], [SQL01_TWIN]),
    # Several SHORT$ matches are ambiguous.
    ("sql02.corp.example.com", ALL + (account("sql02$", 1500, COMPUTER_CLASSES, dn="CN=x,DC=corp"),),
     [SQL02, account("sql02$", 1500, COMPUTER_CLASSES, dn="CN=x,DC=corp")]),
    ("sql09.corp.example.com", ALL, []),
])
def test_pick_host_computer(host, candidates, expected):
    assert pick("LocalSystem", candidates, host=host) == expected


def test_pick_host_computer_ignores_users():
    # A user named like the computer account is not the host's identity.
    impostor = account("sql03$", 1600, USER_CLASSES, dns_host_name="sql03.corp.example.com")
    assert pick("NT SERVICE\\MSSQLSERVER", [impostor], host="sql03.corp.example.com") == []


# -- the candidate index behind resolve_accounts ---------------------------------

INDEX_CASES = ["sqlsvc", "SQLSVC", "CORP\\sqlsvc", "sqlsvc$", "gmsa-sql", "CORP\\GMSA-SQL$", "nobody",
               "sql@corp.example.com", "SQL@CORP.EXAMPLE.COM", "svc@corp.example.com", "SVC@Corp.Example.Com",
               "svc@example.com", "svc@partner.example.org",
               "cn=SQLSVC, ou=service accounts , dc=corp,dc=example,dc=com", DOMAIN_SID + "-1105",
               DOMAIN_SID.lower() + "-1119", "LocalSystem", "NT SERVICE\\MSSQLSERVER"]


@pytest.mark.parametrize("host", [HOST, "SQL01.Corp.Example.com", "sql02.corp.example.com", "sql09.corp.example.com"])
@pytest.mark.parametrize("text", INDEX_CASES)
def test_candidate_index_loses_no_match(text, host):
    # resolve_accounts hands pick() only the candidates filed under the
    # reference's keys; it must choose exactly what it chooses among all.
    candidates = ALL + (SQL01_TWIN,)
    reference = parse_account_reference(text, host)
    near = _near(_index_candidates(candidates), reference)
    assert sorted(a.dn for a in reference.pick(near, DOMAIN_DNS)) == sorted(
        a.dn for a in reference.pick(list(candidates), DOMAIN_DNS))
    assert len(near) <= 3


# -- Account ---------------------------------------------------------------------

@pytest.mark.parametrize("classes, kind, is_computer", [
    (USER_CLASSES, "user", False),
    (COMPUTER_CLASSES, "computer", True),
    (GMSA_CLASSES, "gmsa", True),
    (MSA_CLASSES, "msa", True),
    ([c.upper() for c in GMSA_CLASSES], "gmsa", True),
    (["top", "foreignSecurityPrincipal"], "other", False),
    ([], "other", False),
])
def test_account_kind(classes, kind, is_computer):
    acct = account("x", 1, classes)
    assert acct.kind == kind
    assert acct.is_computer is is_computer


@pytest.mark.parametrize("classes, structural", [
    (USER_CLASSES, "user"),
    (GMSA_CLASSES, "msDS-GroupManagedServiceAccount"),
    ([], None),
])
def test_account_structural_class(classes, structural):
    assert account("x", 1, classes).structural_class == structural


def test_account_name_and_summary():
    assert SQLSVC.name == "CORP\\sqlsvc"
    assert Account(dn="CN=x", sid="S-1-5-21-1-2-3-4", sam_account_name="x", domain_netbios=None).name == "x"
    assert GMSA.summary() == dict(name="CORP\\gmsa-sql$", dn="CN=gmsa-sql,OU=Service Accounts,DC=corp,DC=example,DC=com",
                                  sid=DOMAIN_SID + "-1119", kind="gmsa")


def test_account_defaults():
    acct = Account(dn="CN=x", sid="S-1-5-21-1-2-3-4", sam_account_name="x", domain_netbios="CORP")
    assert (acct.upn, acct.object_classes, acct.dns_host_name, acct.spns, acct.user_account_control,
            acct.security_descriptor) == (None, [], None, [], 0, None)


# -- normalize_dn ----------------------------------------------------------------

@pytest.mark.parametrize("dn, normalized", [
    ("CN=sqlsvc,OU=Service Accounts,DC=corp", "cn=sqlsvc,ou=service accounts,dc=corp"),
    ("  CN = sqlsvc , OU = Service Accounts , DC = corp  ", "cn=sqlsvc,ou=service accounts,dc=corp"),
    ("cn=a+uid=b,dc=corp", "cn=a+uid=b,dc=corp"),
    ("CN=a + UID=b,DC=corp", "cn=a+uid=b,dc=corp"),
])
def test_normalize_dn(dn, normalized):
    assert normalize_dn(dn) == normalized


def test_normalize_dn_keeps_inner_spaces():
    assert normalize_dn("CN=sql svc,DC=corp") != normalize_dn("CN=sqlsvc,DC=corp")


# -- account_from_entry ----------------------------------------------------------

class FakeEntry:
    """The accessors of a DirectoryEntry over already-decoded values."""

    def __init__(self, dn, **attributes):
        self.dn = dn
        self.attributes = {name.lower(): value for name, value in attributes.items()}

    def values(self, name):
        return list(self.attributes.get(name.lower(), []))

    def value(self, name):
        values = self.values(name)
        return values[0] if values else None

    def binary(self, name):
        values = self.attributes.get(name.lower(), [])
        return values[0] if values else None


def test_account_from_entry():
    entry = FakeEntry(
        "CN=gmsa-sql,CN=Managed Service Accounts,DC=corp,DC=example,DC=com",
        objectSid=[sid_to_bytes(DOMAIN_SID + "-1119")],
        sAMAccountName=["gmsa-sql$"],
        objectClass=GMSA_CLASSES,
        dNSHostName=["gmsa-sql.corp.example.com"],
        servicePrincipalName=["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01:1433"],
        userAccountControl=["4096"],
        nTSecurityDescriptor=[b"\x01\x00\x04\x80"],
    )
    assert account_from_entry(entry, "CORP") == Account(
        dn="CN=gmsa-sql,CN=Managed Service Accounts,DC=corp,DC=example,DC=com",
        sid=DOMAIN_SID + "-1119",
        sam_account_name="gmsa-sql$",
        domain_netbios="CORP",
        upn=None,
        object_classes=list(GMSA_CLASSES),
        dns_host_name="gmsa-sql.corp.example.com",
        spns=["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01:1433"],
        user_account_control=4096,
        security_descriptor=b"\x01\x00\x04\x80",
    )


def test_account_from_entry_with_only_the_essentials():
    entry = FakeEntry("CN=sqlsvc,CN=Users,DC=corp", objectSid=[sid_to_bytes(DOMAIN_SID + "-1105")],
                      sAMAccountName=["sqlsvc"], objectClass=USER_CLASSES, userPrincipalName=["sqlsvc@corp"])
    acct = account_from_entry(entry, None)
    assert (acct.sid, acct.name, acct.upn, acct.spns, acct.dns_host_name, acct.user_account_control,
            acct.security_descriptor) == (DOMAIN_SID + "-1105", "sqlsvc", "sqlsvc@corp", [], None, 0, None)


def test_account_attributes_cover_what_account_from_entry_reads():
    assert {"sAMAccountName", "userPrincipalName", "objectSid", "objectClass", "dNSHostName",
            "servicePrincipalName", "userAccountControl"} <= set(ACCOUNT_ATTRIBUTES)


# -- a user x next to a computer X$ (reliability issue, item 8) --------------------

SQLRPT_USER = account("sqlrpt01", 1201)
SQLRPT_COMPUTER = account("SQLRPT01$", 1202, classes=COMPUTER_CLASSES, dns_host_name="sqlrpt01.corp.example.com",
                          dn="CN=SQLRPT01,CN=Computers,DC=corp,DC=example,DC=com")
DOMAIN = dict(dn="DC=corp,DC=example,DC=com", netbios="CORP", dns=DOMAIN_DNS)


class Notes:
    """What note_ambiguous_names reads from a DirectoryClient."""

    def __init__(self, mode="warn"):
        self.options = dict(ambiguous_names=mode)
        self.warnings = []


def resolve(text, mode="warn"):
    reference = parse_account_reference(text)
    candidates = {a.dn.lower(): a for a in (SQLRPT_USER, SQLRPT_COMPUTER)}
    resolved, problems = match_accounts([reference], candidates, DOMAIN)
    client = Notes(mode)
    note_ambiguous_names(client, resolved, candidates)
    return reference, resolved, problems, client.warnings


def test_a_bare_name_of_a_user_next_to_a_computer_warns_naming_both():
    reference, resolved, problems, warnings = resolve("sqlrpt01")
    assert resolved[reference] is SQLRPT_USER and problems == {}
    assert warnings == ["account name 'sqlrpt01' matches both the user CORP\\sqlrpt01 and the computer "
                        "CORP\\SQLRPT01$; the user was taken (a bare name is a user's, as in Windows): write "
                        "'sqlrpt01$' for the computer, or a distinguished name, to say which"]


def test_a_bare_name_next_to_a_computer_fails_under_ambiguous_names_fail():
    """An error before anything is written, whatever would skip an unknown
    name (rbkcd_delegate's unknown_principals)."""
    with pytest.raises(AccountError, match=r"to say which \(ambiguous_names=fail\); nothing written$"):
        resolve("sqlrpt01", mode="fail")


@pytest.mark.parametrize("text", ["sqlrpt01$", "CN=sqlrpt01,OU=Service Accounts,DC=corp,DC=example,DC=com",
                                  "sqlrpt01@corp.example.com", "%s-1201" % DOMAIN_SID])
def test_unambiguous_forms_say_nothing(text):
    _reference, resolved, problems, warnings = resolve(text)
    assert len(resolved) == 1 and problems == {} and warnings == []


def test_no_computer_no_note():
    reference = parse_account_reference("sqlrpt01")
    assert ambiguous_short_names({reference: SQLRPT_USER}, {SQLRPT_USER.dn.lower(): SQLRPT_USER}) == {}
