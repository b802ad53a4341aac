# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure helpers of the LDAP connection: filter escaping, batched OR
filters and the accessors of a search result."""

from __future__ import annotations

import re

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_BYTES,
    MAX_GROUPED_FILTER_TERMS,
    DirectoryClient,
    DirectoryEntry,
    LdapError,
    _explain_connection_error,
    _first_line,
    batched_group_filters,
    batched_or_filters,
    escape_filter_value,
)

# -- escape_filter_value (RFC 4515) ----------------------------------------------


@pytest.mark.parametrize("value, escaped", [
    ("sqlsvc", "sqlsvc"),
    ("", ""),
    # The five characters RFC 4515 requires escaped, as \XX with two hex digits.
    ("*", "\\2a"),
    ("(", "\\28"),
    (")", "\\29"),
    ("\\", "\\5c"),
    ("\x00", "\\00"),
    ("a*b(c)d\\e\x00f", "a\\2ab\\28c\\29d\\5ce\\00f"),
    ("*)(objectClass=*", "\\2a\\29\\28objectClass=\\2a"),
    # Nothing else is escaped: '=', '$', '@', ',', '/', ':' and spaces are plain.
    ("MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01.corp.example.com:1433"),
    ("CN=Doe\\, John,DC=corp", "CN=Doe\\5c, John,DC=corp"),
    ("gmsa$ x@y=z", "gmsa$ x@y=z"),
    # Non-ASCII stays as UTF-8 text, which RFC 4515 allows.
    ("jürgen", "jürgen"),
])
def test_escape_filter_value_text(value, escaped):
    assert escape_filter_value(value) == escaped


@pytest.mark.parametrize("value, escaped", [
    (b"", ""),
    (b"\x00", "\\00"),
    (b"\x01\x05\xff", "\\01\\05\\ff"),
    (b"abc", "\\61\\62\\63"),  # bytes are escaped whole, printable or not
    (bytearray(b"\x2a\x28"), "\\2a\\28"),
])
def test_escape_filter_value_bytes(value, escaped):
    assert escape_filter_value(value) == escaped


def test_escaped_bytes_round_trip():
    value = bytes(range(256))
    escaped = escape_filter_value(value)
    assert re.fullmatch(r"(\\[0-9a-f]{2})*", escaped)
    assert bytes.fromhex(escaped.replace("\\", "")) == value


@pytest.mark.parametrize("value", ["*", "a(b)", "x\\y", "\x00", "*)(|(cn=*"])
def test_escaped_text_has_no_filter_syntax_left(value):
    escaped = escape_filter_value(value)
    assert not set(escaped) & set("*()\x00")
    # Every backslash left starts an escape.
    assert re.fullmatch(r"([^\\]|\\[0-9a-f]{2})*", escaped)


# -- batched_or_filters ----------------------------------------------------------

TERM = re.compile(r"\([^()]*\)")


def split_filter(ldap_filter, template="%s"):
    """The terms of one ``template % (|term...)`` filter."""
    prefix, suffix = template.split("%s")
    assert ldap_filter.startswith(prefix + "(|") and ldap_filter.endswith(")" + suffix)
    body = ldap_filter[len(prefix) + 2:len(ldap_filter) - len(suffix) - 1]
    terms = TERM.findall(body)
    assert "".join(terms) == body
    return terms


def make_terms(count, width=0):
    return ["(servicePrincipalName=mssqlsvc/sql%0*d.corp.example.com:1433)" % (width, n) for n in range(count)]


def test_batched_or_filters_no_terms_no_filters():
    assert list(batched_or_filters([])) == []


def test_batched_or_filters_one_term():
    assert list(batched_or_filters(["(cn=a)"])) == ["(|(cn=a))"]


def test_batched_or_filters_applies_the_template():
    assert list(batched_or_filters(["(cn=a)", "(cn=b)"], "(&(objectClass=user)%s)")) == [
        "(&(objectClass=user)(|(cn=a)(cn=b)))"]


def test_batched_or_filters_default_limit():
    assert MAX_FILTER_BYTES == 200000
    # A couple of thousand SPN terms fit in a handful of filters.
    filters = list(batched_or_filters(make_terms(5000, width=5)))
    assert 1 < len(filters) <= 3


@pytest.mark.parametrize("count, max_bytes, template", [
    (1, 100, "%s"),
    (10, 100, "%s"),
    (1000, 2000, "%s"),
    (1000, 2000, "(&(objectClass=user)%s)"),
    (2500, 20000, "(&(objectClass=user)(!(cn=x))%s)"),
    (3000, MAX_FILTER_BYTES, "%s"),
])
def test_batched_or_filters_cover_every_term_once(count, max_bytes, template):
    terms = make_terms(count)
    filters = list(batched_or_filters(terms, template, max_bytes=max_bytes))
    seen = [term for ldap_filter in filters for term in split_filter(ldap_filter, template)]
    # Every term exactly once, in the given order.
    assert seen == terms
    for ldap_filter in filters:
        # The OR part of each filter stays under the limit.
        assert sum(len(term) for term in split_filter(ldap_filter, template)) <= max_bytes
    # And the batches are full: no two neighbours would have fitted in one.
    overhead = len(template % "(|)")
    sizes = [len("".join(split_filter(f, template))) for f in filters]
    first_terms = [split_filter(f, template)[0] for f in filters]
    for size, next_first in zip(sizes, first_terms[1:]):
        assert overhead + size + len(next_first) > max_bytes


@pytest.mark.parametrize("count, max_terms", [(1, 1), (10, 3), (2500, 1000), (999, 1000), (1000, 1000)])
def test_batched_or_filters_max_terms(count, max_terms):
    terms = make_terms(count)
    filters = list(batched_or_filters(terms, max_terms=max_terms))
    batches = [split_filter(ldap_filter, "%s") for ldap_filter in filters]
    assert [term for batch in batches for term in batch] == terms
    assert all(len(batch) == max_terms for batch in batches[:-1]) and 0 < len(batches[-1]) <= max_terms


def test_batched_or_filters_bytes_bind_before_max_terms():
    filters = list(batched_or_filters(make_terms(100), max_bytes=200, max_terms=1000))
    assert len(filters) > 1 and all(len(f) <= 200 + len("(|)") for f in filters)


def test_batched_or_filters_accepts_any_iterable():
    terms = make_terms(50)
    assert list(batched_or_filters(iter(terms), max_bytes=500)) == list(batched_or_filters(terms, max_bytes=500))


def test_batched_or_filters_oversized_term_gets_its_own_filter():
    big = "(cn=%s)" % ("x" * 200)
    assert list(batched_or_filters(["(cn=a)", big, "(cn=b)"], max_bytes=100)) == [
        "(|(cn=a))", "(|%s)" % big, "(|(cn=b))"]


def test_batched_or_filters_whole_filter_under_max_bytes_in_utf8():
    terms = ["(sAMAccountName=jürgen%03d)" % n for n in range(100)]
    max_bytes = 500
    for ldap_filter in batched_or_filters(terms, "(&(objectClass=user)%s)", max_bytes=max_bytes):
        assert len(ldap_filter.encode("utf-8")) <= max_bytes


def test_batched_group_filters_no_groups_no_filters():
    assert list(batched_group_filters([])) == []
    assert list(batched_group_filters([[[], []]])) == []


def test_batched_group_filters_keeps_groups_whole_and_terms_once():
    groups = [[["(cn=a)", "(cn=b)"]], [["(cn=b)", "(cn=c)"]], [["(cn=d)", "(cn=e)", "(cn=d)"]], [["(cn=f)"]]]
    filters = list(batched_group_filters(groups, max_terms=4))
    # (cn=b) is shared: the second group adds one term; the third would pass 4.
    assert filters == ["(|(cn=a)(cn=b)(cn=c))", "(|(cn=d)(cn=e)(cn=f))"]


def test_batched_group_filters_lists_the_first_tier_of_every_group_first():
    groups = [(["(cn=a)"], ["(spn=a1)", "(spn=a2)"]),
              (["(cn=b)"], ["(spn=b1)", "(cn=a)"]),
              (["(cn=c)", "(spn=c1)"], ["(spn=c1)"])]
    assert list(batched_group_filters(groups)) == [
        "(|(cn=a)(cn=b)(cn=c)(spn=c1)(spn=a1)(spn=a2)(spn=b1))"]


@pytest.mark.parametrize("group_size, count, max_terms, max_bytes", [
    (5, 1000, 2000, MAX_FILTER_BYTES), (5, 1000, 200, MAX_FILTER_BYTES), (7, 300, 2000, 3000), (1, 10, 1, 100),
])
def test_batched_group_filters_cover_every_group_within_limits(group_size, count, max_terms, max_bytes):
    terms = make_terms(group_size * count)
    groups = [[terms[n * group_size:(n + 1) * group_size]] for n in range(count)]
    batches = [split_filter(f, "%s") for f in batched_group_filters(groups, max_bytes=max_bytes, max_terms=max_terms)]
    assert [term for batch in batches for term in batch] == terms
    for batch in batches:
        assert len(batch) <= max_terms and len("(|%s)" % "".join(batch)) <= max_bytes
        # Whole groups only: every batch starts where a group starts.
        assert terms.index(batch[0]) % group_size == 0
    per_filter = min(max_terms // group_size, (max_bytes - 3) // len("".join(groups[0][0])))
    assert len(batches) == -(-count // per_filter)


def test_batched_group_filters_oversized_group_gets_its_own_filter():
    groups = [[["(cn=a)"]], [["(cn=b)", "(cn=c)"], ["(cn=d)"]], [["(cn=e)"]]]
    assert list(batched_group_filters(groups, max_terms=2)) == ["(|(cn=a))", "(|(cn=b)(cn=c)(cn=d))", "(|(cn=e))"]


def test_batched_group_filters_default_fits_about_380_instances():
    # An instance is its account and four SPNs: 2,000 terms hold 400 of them.
    spns = make_terms(4000, width=4)
    groups = [(["(sAMAccountName=svc%04d)" % n], spns[4 * n:4 * n + 4]) for n in range(1000)]
    assert MAX_GROUPED_FILTER_TERMS == 2000
    filters = list(batched_group_filters(groups))
    assert len(filters) == 3
    # Names first, then SPNs, in each filter.
    assert filters[0].startswith("(|(sAMAccountName=svc0000)(sAMAccountName=svc0001)")
    assert filters[0].index("(sAMAccountName=svc0399)") < filters[0].index("(servicePrincipalName=")


# -- DirectoryEntry --------------------------------------------------------------

SID_BYTES = b"\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00"


@pytest.fixture
def entry():
    return DirectoryEntry("CN=sqlsvc,CN=Users,DC=corp,DC=example,DC=com", {
        "sAMAccountName": [b"sqlsvc"],
        "servicePrincipalName": [b"MSSQLSvc/sql01.corp.example.com:1433", b"MSSQLSvc/sql01:1433"],
        "objectSid": [SID_BYTES],
        "description": [b"J\xc3\xbcrgen's service"],
        "nTSecurityDescriptor": [bytearray(b"\x01\x00\x04\x80")],
        "member": [],
    })


def test_directory_entry_dn(entry):
    assert entry.dn == "CN=sqlsvc,CN=Users,DC=corp,DC=example,DC=com"


@pytest.mark.parametrize("name", ["servicePrincipalName", "serviceprincipalname", "SERVICEPRINCIPALNAME"])
def test_directory_entry_names_are_case_insensitive(entry, name):
    assert entry.values(name) == ["MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01:1433"]
    assert entry.value(name) == "MSSQLSvc/sql01.corp.example.com:1433"


def test_directory_entry_decodes_utf8(entry):
    assert entry.value("description") == "Jürgen's service"


def test_directory_entry_missing_attribute(entry):
    assert entry.values("userPrincipalName") == []
    assert entry.value("userPrincipalName") is None
    assert entry.binary("userPrincipalName") is None


def test_directory_entry_empty_attribute(entry):
    assert entry.values("member") == []
    assert entry.value("member") is None
    assert entry.binary("member") is None


def test_directory_entry_binary(entry):
    assert entry.binary("objectSid") == SID_BYTES
    assert entry.binary("OBJECTSID") == SID_BYTES
    value = entry.binary("nTSecurityDescriptor")
    assert value == b"\x01\x00\x04\x80"
    assert isinstance(value, bytes) and not isinstance(value, bytearray)
    # The first value only.
    assert entry.binary("servicePrincipalName") == b"MSSQLSvc/sql01.corp.example.com:1433"


def test_directory_entry_raw_keys_are_lower_case(entry):
    assert set(entry.raw) == {"samaccountname", "serviceprincipalname", "objectsid", "description",
                              "ntsecuritydescriptor", "member"}


# -- error messages: what went wrong, and how long the run waited -----------------------------

OPTIONS = dict(connection_timeout=3, ca_cert="/ca.pem")


@pytest.mark.parametrize("text, message", [
    ("(\"('socket ssl wrapping error: TLS/SSL connection has been closed (EOF) (_ssl.c:992)',)\",)",
     "socket ssl wrapping error: TLS/SSL connection has been closed (EOF) (_ssl.c:992)"),
    ("('a',)", "a"),
    ("plain text (with parentheses)", "plain text (with parentheses)"),
    ("first line\nsecond", "first line"),
])
def test_first_line_unwraps_ldap3s_tuple_reprs(text, message):
    assert _first_line(Exception(text)) == message


def test_a_timeout_while_connecting_states_the_real_wait():
    message = _explain_connection_error("dc1:636", Exception("socket ssl wrapping error: _ssl.c:980: The handshake "
                                                             "operation timed out"), OPTIONS, 3.04)
    assert message == ("cannot reach the LDAP server dc1:636: no answer within 3s (connection_timeout) while "
                       "connecting; waited 3.0s (is the DC running, reachable and not hung?)")


def test_a_connection_closed_while_connecting_is_said_plainly():
    message = _explain_connection_error(
        "dc1:636", Exception("(\"('socket ssl wrapping error: TLS/SSL connection has been closed (EOF) "
                             "(_ssl.c:992)',)\",)"), OPTIONS, 0.01)
    assert message == ("cannot reach the LDAP server dc1:636: the connection was closed while connecting (socket ssl "
                       "wrapping error: TLS/SSL connection has been closed (EOF) (_ssl.c:992); is the DC running "
                       "and its LDAP service up?)")


def test_a_dc_that_ends_the_session_while_connecting_is_said_plainly():
    """ldap3's words when the DC goes away during the bind (seen when the DC
    is killed between two tasks of a run, tests/fault)."""
    message = _explain_connection_error("dc1:636", Exception("session terminated by server"), OPTIONS, 0.01)
    assert message == ("cannot reach the LDAP server dc1:636: the connection was closed while connecting (session "
                       "terminated by server; is the DC running and its LDAP service up?)")


@pytest.mark.parametrize("value", [0, -1, 3601, None])
def test_timeouts_out_of_range_are_refused_before_connecting(value):
    options = dict(server="dc1", tls_mode="ldaps", cert_validation="always", connection_timeout=10,
                   operation_timeout=value, username="u", password="p")
    with pytest.raises(LdapError, match="operation_timeout must be between 1 and 3600 seconds"):
        DirectoryClient(options)
