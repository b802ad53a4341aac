# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SPN rules: parsing, validation, canonical spelling and comparison."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    MSSQL_SERVICE_CLASS,
    ServicePrincipalName,
    SpnError,
    mssql_spn,
    normalize_spn,
    parse_spn,
    short_host_name,
    spn_key,
    validate_hostname,
    validate_instance_name,
    validate_port,
)


def test_constants():
    assert MSSQL_SERVICE_CLASS == "MSSQLSvc"
    assert DEFAULT_INSTANCE == "MSSQLSERVER"


# -- parse_spn / normalize_spn: accepted SPNs -----------------------------------

@pytest.mark.parametrize("text, canonical", [
    # The four forms SQL Server clients ask for.
    ("MSSQLSvc/sql01.corp.example.com:1433", "MSSQLSvc/sql01.corp.example.com:1433"),
    ("MSSQLSvc/sql01.corp.example.com", "MSSQLSvc/sql01.corp.example.com"),
    ("MSSQLSvc/sql01.corp.example.com:SALES", "MSSQLSvc/sql01.corp.example.com:SALES"),
    ("MSSQLSvc/sql01:1433", "MSSQLSvc/sql01:1433"),
    # Canonical spelling: service class MSSQLSvc, lower-case host, upper-case instance.
    ("mssqlsvc/SQL01.Corp.Example.COM:1433", "MSSQLSvc/sql01.corp.example.com:1433"),
    ("MSSQLSVC/Sql01:sales", "MSSQLSvc/sql01:SALES"),
    ("MSSQLSvc/sql01:Sales_2$", "MSSQLSvc/sql01:SALES_2$"),
    ("MSSQLSvc/sql01:_x", "MSSQLSvc/sql01:_X"),
    # A trailing dot (the DNS root) is dropped.
    ("MSSQLSvc/sql01.corp.example.com.:1433", "MSSQLSvc/sql01.corp.example.com:1433"),
    # Port boundaries.
    ("MSSQLSvc/sql01:1", "MSSQLSvc/sql01:1"),
    ("MSSQLSvc/sql01:65535", "MSSQLSvc/sql01:65535"),
    # Instance name of exactly 16 characters.
    ("MSSQLSvc/sql01:ABCDEFGHIJKLMNOP", "MSSQLSvc/sql01:ABCDEFGHIJKLMNOP"),
    # Other service classes keep their own spelling, only the host is folded.
    ("HTTP/Web.Corp.Example.com", "HTTP/web.corp.example.com"),
    ("HTTP/web.corp.example.com:8080", "HTTP/web.corp.example.com:8080"),
    ("ldap/DC1.corp.example.com/corp.example.com", "ldap/dc1.corp.example.com/corp.example.com"),
    ("host/dc1:389/Corp", "host/dc1:389/Corp"),
    # Host labels may hold '_' and '-', and be 63 characters long.
    ("MSSQLSvc/sql_01-a.corp:1433", "MSSQLSvc/sql_01-a.corp:1433"),
    ("MSSQLSvc/%s.corp:1433" % ("a" * 63), "MSSQLSvc/%s.corp:1433" % ("a" * 63)),
])
def test_normalize_spn_accepts_and_canonicalises(text, canonical):
    assert normalize_spn(text) == canonical
    # Canonical spelling is a fixed point.
    assert normalize_spn(canonical) == canonical


@pytest.mark.parametrize("text, expected", [
    ("MSSQLSvc/sql01.corp:1433", ServicePrincipalName("MSSQLSvc", "sql01.corp", port=1433)),
    ("mssqlsvc/SQL01:sales", ServicePrincipalName("MSSQLSvc", "sql01", instance="SALES")),
    ("MSSQLSvc/sql01", ServicePrincipalName("MSSQLSvc", "sql01")),
    ("HTTP/web:8080/app", ServicePrincipalName("HTTP", "web", port=8080, service_name="app")),
])
def test_parse_spn_fields(text, expected):
    parsed = parse_spn(text)
    assert parsed == expected
    assert isinstance(parsed.port, (int, type(None)))


# -- parse_spn: rejected SPNs -----------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "SPN is empty"),
    (None, "SPN is empty"),
    (1433, "SPN is empty"),
    # White space anywhere.
    ("MSSQLSvc/sql01 :1433", "contains white space"),
    (" MSSQLSvc/sql01:1433", "contains white space"),
    ("MSSQLSvc/sql01:1433 ", "contains white space"),
    ("MSSQL Svc/sql01:1433", "contains white space"),
    # Control characters, non-ASCII.
    ("MSSQLSvc/sql\t01:1433", "non-ASCII or control characters"),
    ("MSSQLSvc/sql01:1433\n", "non-ASCII or control characters"),
    ("MSSQLSvc/sql\x0001", "non-ASCII or control characters"),
    ("MSSQLSvc/sql\x7f01", "non-ASCII or control characters"),
    ("MSSQLSvc/sqlé:1433", "non-ASCII or control characters"),
    ("MSSQLSvc/sql01:SALÉS", "non-ASCII or control characters"),
    ("MSSQLSvc/sql01\u00a0:1433", "non-ASCII or control characters"),
    # Structure: slashes and empty parts.
    ("MSSQLSvc", "is not of the form serviceclass/host[:port][/servicename]"),
    ("MSSQLSvc/", "is not of the form"),
    ("/sql01:1433", "is not of the form"),
    ("MSSQLSvc//sql01", "is not of the form"),
    ("HTTP/web/", "is not of the form"),
    ("HTTP/web/app/extra", "is not of the form"),
    ("MSSQLSvc/sql01:1433/x", "must not have a service name part"),
    # Service class.
    ("1MSSQLSvc/sql01", "invalid service class '1MSSQLSvc'"),
    ("MSSQL$vc/sql01", "invalid service class"),
    # Host.
    ("MSSQLSvc/:1433", "host is empty"),
    ("MSSQLSvc/-sql01:1433", "is not a valid DNS or NetBIOS host name"),
    ("MSSQLSvc/sql01-:1433", "is not a valid DNS or NetBIOS host name"),
    ("MSSQLSvc/sql01..corp:1433", "is not a valid DNS or NetBIOS host name"),
    ("MSSQLSvc/sql*01:1433", "is not a valid DNS or NetBIOS host name"),
    ("MSSQLSvc/%s.corp:1433" % ("a" * 64), "is not a valid DNS or NetBIOS host name"),
    ("MSSQLSvc/10.0.0.5:1433", "is an IP address; Kerberos needs the host's DNS name"),
    ("MSSQLSvc/10.0.0.5", "is an IP address"),
    ("HTTP/192.168.1.1", "is an IP address"),
    # Port.
    ("MSSQLSvc/sql01:", "has an empty port"),
    ("MSSQLSvc/sql01:0", "is not a TCP port number (1-65535)"),
    ("MSSQLSvc/sql01:65536", "is not a TCP port number (1-65535)"),
    ("MSSQLSvc/sql01:99999", "is not a TCP port number (1-65535)"),
    ("MSSQLSvc/sql01:01433", "is not a TCP port number (1-65535)"),
    ("MSSQLSvc/sql01:1433:1", "is not a TCP port number (1-65535)"),
    ("MSSQLSvc/sql01:1433x", "is not a TCP port number (1-65535)"),
    ("HTTP/web:0", "is not a TCP port number"),
    ("HTTP/web:65536", "is not a TCP port number"),
    ("HTTP/web:080", "is not a TCP port number"),
    ("HTTP/web:http", "port 'http' is not a number"),
    ("HTTP/web:-1", "port '-1' is not a number"),
    # Instance names: 1-16 characters, starting with a letter or '_'.
    ("MSSQLSvc/sql01:ABCDEFGHIJKLMNOPQ", "is not a valid SQL Server instance name"),
    ("MSSQLSvc/sql01:9SALES", "is not a TCP port number"),  # a leading digit reads as a port
    ("MSSQLSvc/sql01:$SALES", "is not a valid SQL Server instance name"),
    ("MSSQLSvc/sql01:SA-LES", "is not a valid SQL Server instance name"),
    ("MSSQLSvc/sql01:SALES:1", "is not a valid SQL Server instance name"),
    ("MSSQLSvc/sql01:+1433", "is not a valid SQL Server instance name"),
])
def test_parse_spn_rejects(text, message):
    with pytest.raises(SpnError) as error:
        parse_spn(text)
    assert message in str(error.value)
    with pytest.raises(SpnError):
        normalize_spn(text)


@pytest.mark.parametrize("text", [
    "MSSQLSvc/sql01 :1433",
    "MSSQLSvc/10.0.0.5:1433",
    "MSSQLSvc/sql01:0",
    "HTTP/web:http",
])
def test_parse_spn_error_quotes_the_spn(text):
    with pytest.raises(SpnError) as error:
        parse_spn(text)
    assert repr(text) in str(error.value)


def test_spn_error_is_a_value_error():
    assert issubclass(SpnError, ValueError)


def test_host_too_long_is_rejected():
    # 4 labels of 63 + 3 dots = 255 characters: every label valid, the name too long.
    host = ".".join(["a" * 63] * 4)
    with pytest.raises(SpnError, match="not a valid DNS or NetBIOS host name"):
        parse_spn("MSSQLSvc/%s:1433" % host)
    # 253 characters is still fine.
    host = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(host) == 253
    assert parse_spn("MSSQLSvc/%s:1433" % host).host == host


# -- spn_key: case-insensitive comparison ----------------------------------------

@pytest.mark.parametrize("left, right", [
    ("MSSQLSvc/sql01.corp.example.com:1433", "mssqlsvc/SQL01.CORP.EXAMPLE.COM:1433"),
    ("MSSQLSvc/sql01:SALES", "MSSQLSVC/sql01:sales"),
    ("HTTP/Web/App", "http/web/app"),
])
def test_spn_key_ignores_case(left, right):
    assert spn_key(left) == spn_key(right)


@pytest.mark.parametrize("left, right", [
    ("MSSQLSvc/sql01:1433", "MSSQLSvc/sql01:1434"),
    ("MSSQLSvc/sql01", "MSSQLSvc/sql01:1433"),
    ("MSSQLSvc/sql01:SALES", "MSSQLSvc/sql01.corp:SALES"),
])
def test_spn_key_distinguishes_different_spns(left, right):
    assert spn_key(left) != spn_key(right)


def test_service_principal_name_key_matches_spn_key():
    spn = parse_spn("mssqlsvc/SQL01:sales")
    assert spn.key == spn_key("MSSQLSvc/sql01:SALES") == "mssqlsvc/sql01:sales"


# -- ServicePrincipalName formatting ---------------------------------------------

@pytest.mark.parametrize("spn, text", [
    (ServicePrincipalName("MSSQLSvc", "sql01"), "MSSQLSvc/sql01"),
    (ServicePrincipalName("MSSQLSvc", "sql01", port=1433), "MSSQLSvc/sql01:1433"),
    (ServicePrincipalName("MSSQLSvc", "sql01", instance="SALES"), "MSSQLSvc/sql01:SALES"),
    (ServicePrincipalName("ldap", "dc1", service_name="corp"), "ldap/dc1/corp"),
    (ServicePrincipalName("ldap", "dc1", port=389, service_name="corp"), "ldap/dc1:389/corp"),
])
def test_service_principal_name_str(spn, text):
    assert str(spn) == text


def test_service_principal_name_is_immutable_and_hashable():
    spn = parse_spn("MSSQLSvc/sql01:1433")
    with pytest.raises(AttributeError):
        spn.port = 1434
    assert {spn, parse_spn("mssqlsvc/SQL01:1433")} == {spn}


# -- mssql_spn -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, text", [
    (dict(host="sql01.corp.example.com"), "MSSQLSvc/sql01.corp.example.com"),
    (dict(host="SQL01.Corp.Example.com", port=1433), "MSSQLSvc/sql01.corp.example.com:1433"),
    (dict(host="sql01", port="1533"), "MSSQLSvc/sql01:1533"),
    (dict(host="sql01", instance="sales"), "MSSQLSvc/sql01:SALES"),
    (dict(host="sql01.corp.example.com.", instance="SALES"), "MSSQLSvc/sql01.corp.example.com:SALES"),
])
def test_mssql_spn(kwargs, text):
    assert mssql_spn(**kwargs) == text


@pytest.mark.parametrize("kwargs, message", [
    (dict(host="sql01", port=1433, instance="SALES"), "a port or an instance name, not both"),
    (dict(host="sql01", port=0), "is not a TCP port number"),
    (dict(host="sql01", port=True), "is not a TCP port number"),
    (dict(host="sql01", instance="1SALES"), "is not a valid SQL Server instance name"),
    (dict(host="10.1.2.3", port=1433), "is an IP address"),
    (dict(host="", port=1433), "is empty"),
])
def test_mssql_spn_rejects(kwargs, message):
    with pytest.raises(SpnError) as error:
        mssql_spn(**kwargs)
    assert message in str(error.value)


# -- validate_port ---------------------------------------------------------------

@pytest.mark.parametrize("value, port", [
    (1, 1), (1433, 1433), (65535, 65535), ("1433", 1433), (" 1533 ", 1533),
])
def test_validate_port_accepts(value, port):
    assert validate_port(value) == port


@pytest.mark.parametrize("value", [
    0, 65536, 99999, 100000, -1, "0", "01433", "", "abc", "14 33", "1433.0", 1433.0, None, True, False, "+1433",
])
def test_validate_port_rejects(value):
    with pytest.raises(SpnError, match="is not a TCP port number"):
        validate_port(value)


def test_validate_port_names_what_it_checks():
    with pytest.raises(SpnError, match=r"^listener port 0 is not a TCP port number \(1-65535\)$"):
        validate_port(0, "listener port")


# -- validate_hostname -----------------------------------------------------------

@pytest.mark.parametrize("value, host", [
    ("SQL01.Corp.Example.COM", "sql01.corp.example.com"),
    ("sql01.corp.example.com.", "sql01.corp.example.com"),
    ("SQL01", "sql01"),
    ("sql-01_a", "sql-01_a"),
    ("a", "a"),
    ("123.corp.example.com", "123.corp.example.com"),  # numeric labels are fine, but not the last one
])
def test_validate_hostname_accepts(value, host):
    assert validate_hostname(value) == host


@pytest.mark.parametrize("value, message", [
    ("", "host name is empty"),
    (None, "host name is empty"),
    (42, "host name is empty"),
    (".", "is not a valid DNS or NetBIOS host name"),
    ("sql01 .corp", "is not a valid DNS or NetBIOS host name"),
    ("sql01:1433", "is not a valid DNS or NetBIOS host name"),
    ("sql01/corp", "is not a valid DNS or NetBIOS host name"),
    ("sql01\\corp", "is not a valid DNS or NetBIOS host name"),
    ("fe80::1", "is not a valid DNS or NetBIOS host name"),
    ("10.0.0.1", "is an IP address"),
    ("1433", "is an IP address"),
    ("sqlé.corp", "non-ASCII or control characters"),
    ("sql\n01", "non-ASCII or control characters"),
])
def test_validate_hostname_rejects(value, message):
    with pytest.raises(SpnError) as error:
        validate_hostname(value)
    assert message in str(error.value)


def test_validate_hostname_names_what_it_checks():
    with pytest.raises(SpnError, match="^listener name is empty$"):
        validate_hostname("", "listener name")


# -- validate_instance_name ------------------------------------------------------

@pytest.mark.parametrize("value, name", [
    ("sales", "SALES"),
    ("MSSQLSERVER", "MSSQLSERVER"),
    ("_x", "_X"),
    ("Sql2019$a", "SQL2019$A"),
    ("A", "A"),
    ("a" * 16, "A" * 16),
])
def test_validate_instance_name_accepts(value, name):
    assert validate_instance_name(value) == name


@pytest.mark.parametrize("value", [
    "", None, 7, "a" * 17, "1SALES", "$SALES", "SA LES", "SA-LES", "SA.LES", "SALES\\X", "SALÉS",
])
def test_validate_instance_name_rejects(value):
    with pytest.raises(SpnError, match="is not a valid SQL Server instance name"):
        validate_instance_name(value)


# -- short_host_name -------------------------------------------------------------

@pytest.mark.parametrize("fqdn, short", [
    ("sql01.corp.example.com", "sql01"),
    ("sql01", "sql01"),
    ("SQL01.corp", "SQL01"),
])
def test_short_host_name(fqdn, short):
    assert short_host_name(fqdn) == short
