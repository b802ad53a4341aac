# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL Server instances from inventory options, and the SPNs their clients ask for."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    DYNAMIC_PORT,
    SPN_FORMS,
    SPN_FORMS_ARGUMENT_SPEC,
    SQL_INSTANCE_OPTIONS,
    RequiredSpn,
    SqlInstance,
    display_name,
    instance_key,
    instance_key_from_name,
    parse_instance,
    static_port,
)

FQDN = "sql01.corp.example.com"


def instance(**options):
    """parse_instance with the options Ansible would pass (defaults filled in)."""
    full = dict(host=FQDN, instance="MSSQLSERVER", port=None, tcp_enabled=True, service_account="CORP\\sqlsvc",
                listeners=[], extra_spns=[])
    full.update(options)
    return parse_instance(full)


def spns(sql_instance, forms=SPN_FORMS):
    return [required.spn for required in sql_instance.required_spns(forms)]


def spns_and_forms(sql_instance, forms=SPN_FORMS):
    return [(required.spn, required.form) for required in sql_instance.required_spns(forms)]


# -- the argument spec -----------------------------------------------------------

def test_spn_forms_order_and_argument_spec():
    assert SPN_FORMS == ("fqdn_port", "fqdn_instance", "netbios_port", "netbios_instance",
                         "listener_fqdn", "listener_netbios")
    assert SPN_FORMS_ARGUMENT_SPEC["choices"] == list(SPN_FORMS)
    assert SPN_FORMS_ARGUMENT_SPEC["default"] == list(SPN_FORMS)


def test_instance_options_defaults():
    assert SQL_INSTANCE_OPTIONS["instance"]["default"] == "MSSQLSERVER"
    assert SQL_INSTANCE_OPTIONS["tcp_enabled"]["default"] is True
    assert SQL_INSTANCE_OPTIONS["host"]["required"] is True
    assert SQL_INSTANCE_OPTIONS["service_account"]["required"] is True


# -- required SPNs ---------------------------------------------------------------

def test_default_instance_on_1433():
    assert spns_and_forms(instance(port=1433)) == [
        ("MSSQLSvc/sql01.corp.example.com:1433", "fqdn_port"),
        ("MSSQLSvc/sql01.corp.example.com", "fqdn_instance"),
        ("MSSQLSvc/sql01:1433", "netbios_port"),
        ("MSSQLSvc/sql01", "netbios_instance"),
    ]


def test_default_instance_port_defaults_to_1433():
    sql = instance()
    assert sql.port == 1433
    assert not sql.dynamic_port
    assert spns(sql) == spns(instance(port=1433))


def test_named_instance_on_static_port():
    assert spns_and_forms(instance(instance="SALES", port=1533)) == [
        ("MSSQLSvc/sql01.corp.example.com:1533", "fqdn_port"),
        ("MSSQLSvc/sql01.corp.example.com:SALES", "fqdn_instance"),
        ("MSSQLSvc/sql01:1533", "netbios_port"),
        ("MSSQLSvc/sql01:SALES", "netbios_instance"),
    ]


def test_named_instance_defaults_to_dynamic_port():
    sql = instance(instance="SALES")
    assert sql.port is None
    assert sql.dynamic_port
    assert spns_and_forms(sql) == [
        ("MSSQLSvc/sql01.corp.example.com:SALES", "fqdn_instance"),
        ("MSSQLSvc/sql01:SALES", "netbios_instance"),
    ]


@pytest.mark.parametrize("port", ["dynamic", "Dynamic", " DYNAMIC "])
def test_explicit_dynamic_port(port):
    sql = instance(port=port)
    assert sql.port is None
    assert sql.dynamic_port
    # The default instance without a pinned port: only the portless SPNs.
    assert spns(sql) == ["MSSQLSvc/sql01.corp.example.com", "MSSQLSvc/sql01"]


def test_dynamic_named_instance():
    sql = instance(instance="SALES", port="dynamic")
    assert sql.dynamic_port
    assert spns(sql) == ["MSSQLSvc/sql01.corp.example.com:SALES", "MSSQLSvc/sql01:SALES"]


@pytest.mark.parametrize("name, port, expected", [
    ("MSSQLSERVER", 1433, ["MSSQLSvc/sql01.corp.example.com", "MSSQLSvc/sql01"]),
    ("SALES", 1533, ["MSSQLSvc/sql01.corp.example.com:SALES", "MSSQLSvc/sql01:SALES"]),
    ("SALES", None, ["MSSQLSvc/sql01.corp.example.com:SALES", "MSSQLSvc/sql01:SALES"]),
])
def test_tcp_disabled_needs_only_instance_forms(name, port, expected):
    sql = instance(instance=name, port=port, tcp_enabled=False,
                   listeners=[dict(name="ag1.corp.example.com", port=5022)])
    assert spns(sql) == expected
    # Without TCP the port is not dynamic: it does not matter.
    assert not sql.dynamic_port


def test_listener_inherits_the_instance_port():
    sql = instance(instance="SALES", port=1533, listeners=[dict(name="AG1.Corp.Example.com", port=None)])
    assert sql.listeners == [dict(name="ag1.corp.example.com", port=1533)]
    assert spns_and_forms(sql)[-2:] == [
        ("MSSQLSvc/ag1.corp.example.com:1533", "listener_fqdn"),
        ("MSSQLSvc/ag1:1533", "listener_netbios"),
    ]


def test_listener_with_its_own_port():
    sql = instance(port=1433, listeners=[dict(name="ag1.corp.example.com", port=14330)])
    assert spns_and_forms(sql)[-2:] == [
        ("MSSQLSvc/ag1.corp.example.com:14330", "listener_fqdn"),
        ("MSSQLSvc/ag1:14330", "listener_netbios"),
    ]


def test_listener_port_on_a_dynamic_instance():
    sql = instance(instance="SALES", listeners=[dict(name="ag1.corp.example.com", port=1600)])
    assert spns(sql) == [
        "MSSQLSvc/sql01.corp.example.com:SALES",
        "MSSQLSvc/sql01:SALES",
        "MSSQLSvc/ag1.corp.example.com:1600",
        "MSSQLSvc/ag1:1600",
    ]


def test_listener_given_by_short_name_has_no_netbios_form():
    sql = instance(listeners=[dict(name="AG1", port=1433)])
    listener_spns = [pair for pair in spns_and_forms(sql) if pair[1].startswith("listener")]
    assert listener_spns == [("MSSQLSvc/ag1:1433", "listener_fqdn")]


def test_several_listeners_keep_their_order():
    sql = instance(listeners=[dict(name="ag2.corp.example.com"), dict(name="ag1.corp.example.com", port=1500)])
    assert [spn for spn, form in spns_and_forms(sql) if form == "listener_fqdn"] == [
        "MSSQLSvc/ag2.corp.example.com:1433", "MSSQLSvc/ag1.corp.example.com:1500"]


@pytest.mark.parametrize("forms, expected", [
    (["fqdn_port"], ["MSSQLSvc/sql01.corp.example.com:1533"]),
    (["fqdn_instance"], ["MSSQLSvc/sql01.corp.example.com:SALES"]),
    (["netbios_port", "netbios_instance"], ["MSSQLSvc/sql01:1533", "MSSQLSvc/sql01:SALES"]),
    (["fqdn_port", "fqdn_instance"], ["MSSQLSvc/sql01.corp.example.com:1533",
                                      "MSSQLSvc/sql01.corp.example.com:SALES"]),
    (["listener_fqdn"], ["MSSQLSvc/ag1.corp.example.com:1533"]),
    (["listener_netbios"], ["MSSQLSvc/ag1:1533"]),
    # The order of the requested forms does not change the report order.
    (["netbios_instance", "fqdn_port"], ["MSSQLSvc/sql01.corp.example.com:1533", "MSSQLSvc/sql01:SALES"]),
    ([], []),
])
def test_spn_forms_narrow_the_required_spns(forms, expected):
    sql = instance(instance="SALES", port=1533, listeners=[dict(name="ag1.corp.example.com")])
    assert spns(sql, forms) == expected


def test_extra_spns_are_normalised_and_always_required():
    sql = instance(extra_spns=["mssqlsvc/SQL-ALIAS.Corp.Example.com:1433", "MSSQLSvc/sql-alias:1433"])
    assert sql.extra_spns == ["MSSQLSvc/sql-alias.corp.example.com:1433", "MSSQLSvc/sql-alias:1433"]
    assert spns_and_forms(sql, ["fqdn_port"]) == [
        ("MSSQLSvc/sql01.corp.example.com:1433", "fqdn_port"),
        ("MSSQLSvc/sql-alias.corp.example.com:1433", "extra"),
        ("MSSQLSvc/sql-alias:1433", "extra"),
    ]
    assert spns(sql, []) == ["MSSQLSvc/sql-alias.corp.example.com:1433", "MSSQLSvc/sql-alias:1433"]


def test_duplicates_are_removed_keeping_the_first_form():
    sql = instance(
        listeners=[dict(name=FQDN, port=1433)],  # the same SPN as fqdn_port
        extra_spns=["MSSQLSVC/SQL01.CORP.EXAMPLE.COM:1433", "MSSQLSvc/sql01", "mssqlsvc/sql01"],
    )
    assert spns_and_forms(sql) == [
        ("MSSQLSvc/sql01.corp.example.com:1433", "fqdn_port"),
        ("MSSQLSvc/sql01.corp.example.com", "fqdn_instance"),
        ("MSSQLSvc/sql01:1433", "netbios_port"),
        ("MSSQLSvc/sql01", "netbios_instance"),
    ]


def test_required_spns_are_unique_case_insensitively():
    sql = instance(instance="SALES", port=1533, listeners=[dict(name="ag1.corp.example.com")],
                   extra_spns=["MSSQLSvc/ag1.corp.example.com:1533", "MSSQLSvc/other.corp.example.com:1533"])
    keys = [spn.lower() for spn in spns(sql)]
    assert len(keys) == len(set(keys)) == 7


def test_required_spn_is_a_value():
    assert RequiredSpn("MSSQLSvc/sql01", "netbios_instance") == RequiredSpn("MSSQLSvc/sql01", "netbios_instance")
    with pytest.raises(AttributeError):
        RequiredSpn("MSSQLSvc/sql01", "netbios_instance").spn = "x"


# -- the instance itself ---------------------------------------------------------

@pytest.mark.parametrize("name, display, is_default", [
    ("MSSQLSERVER", FQDN, True),
    ("mssqlserver", FQDN, True),
    ("SALES", FQDN + "\\SALES", False),
    ("sales", FQDN + "\\SALES", False),
])
def test_instance_name(name, display, is_default):
    sql = instance(instance=name, port=1433)
    assert sql.name == display
    assert sql.is_default is is_default


@pytest.mark.parametrize("name", [None, ""])
def test_missing_instance_name_is_the_default_instance(name):
    sql = instance(instance=name)
    assert sql.instance == "MSSQLSERVER"
    assert sql.name == FQDN


def test_parse_instance_normalises_values():
    sql = instance(host="SQL01.Corp.Example.com.", instance="sales", port="1533",
                   listeners=[dict(name="AG1.CORP.EXAMPLE.COM", port="1600")])
    assert sql == SqlInstance(host=FQDN, instance="SALES", port=1533, tcp_enabled=True,
                              service_account="CORP\\sqlsvc",
                              listeners=[dict(name="ag1.corp.example.com", port=1600)], extra_spns=[])


def test_parse_instance_with_only_the_required_options():
    sql = parse_instance(dict(host=FQDN, service_account="sqlsvc"))
    assert (sql.instance, sql.port, sql.tcp_enabled, sql.listeners, sql.extra_spns) == (
        "MSSQLSERVER", 1433, True, [], [])


@pytest.mark.parametrize("options, summary", [
    (dict(), dict(name=FQDN, host=FQDN, instance="MSSQLSERVER", port=1433, tcp_enabled=True)),
    (dict(instance="SALES"), dict(name=FQDN + "\\SALES", host=FQDN, instance="SALES", port=DYNAMIC_PORT,
                                  tcp_enabled=True)),
    (dict(instance="SALES", port=1533, tcp_enabled=False),
     dict(name=FQDN + "\\SALES", host=FQDN, instance="SALES", port=1533, tcp_enabled=False)),
])
def test_summary(options, summary):
    assert instance(**options).summary() == summary
    assert DYNAMIC_PORT == "dynamic"


# -- bad input: errors name the instance -----------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(host="sql01"), "instance sql01: host 'sql01' must be the fully qualified DNS name"),
    (dict(host="10.0.0.5"), "instance 10.0.0.5: host '10.0.0.5' is an IP address"),
    (dict(host=""), "instance ?: host is empty"),
    (dict(host="sql 01.corp"), "instance sql 01.corp: host 'sql 01.corp' is not a valid DNS or NetBIOS host name"),
    (dict(instance="1SALES"), "instance %s\\1SALES: instance name '1SALES' is not a valid" % FQDN),
    (dict(instance="A" * 17), "instance %s\\%s: instance name" % (FQDN, "A" * 17)),
    (dict(port=0), "instance %s: port 0 is not a TCP port number (1-65535)" % FQDN),
    (dict(port=65536), "instance %s: port 65536 is not a TCP port number" % FQDN),
    (dict(port="01433"), "instance %s: port '01433' is not a TCP port number" % FQDN),
    (dict(port="static"), "instance %s: port 'static' is not a TCP port number" % FQDN),
    (dict(port=True), "instance %s: port True is not a TCP port number" % FQDN),
    (dict(instance="SALES", port=-5), "instance %s\\SALES: port -5 is not a TCP port number" % FQDN),
    (dict(instance="SALES", listeners=[dict(name="ag1.corp.example.com")]),
     "instance %s\\SALES: listener 'ag1.corp.example.com' needs a port (the instance has no static port)" % FQDN),
    (dict(listeners=[dict(name="ag1.corp.example.com", port=70000)]),
     "instance %s: listener port 70000 is not a TCP port number" % FQDN),
    (dict(listeners=[dict(name="ag1.corp.example.com", port=0)]),
     "instance %s: listener port 0 is not a TCP port number" % FQDN),
    (dict(listeners=[dict(name="10.0.0.9", port=1433)]), "instance %s: listener name '10.0.0.9' is an IP address" % FQDN),
    (dict(extra_spns=["MSSQLSvc/sql01 :1433"]), "instance %s: SPN 'MSSQLSvc/sql01 :1433' contains white space" % FQDN),
    (dict(extra_spns=["MSSQLSvc/sqlé:1433"]), "instance %s: SPN 'MSSQLSvc/sqlé:1433' contains non-ASCII" % FQDN),
    (dict(instance="SALES", extra_spns=["MSSQLSvc"]), "instance %s\\SALES: SPN 'MSSQLSvc' is not of the form" % FQDN),
])
def test_bad_input_names_the_instance(options, message):
    with pytest.raises(SpnError) as error:
        instance(**options)
    assert str(error.value).startswith(message)


def test_listener_port_zero_is_not_taken_for_missing():
    # Regression: a listener port of 0 used to be replaced silently by the instance's port.
    with pytest.raises(SpnError, match="listener port 0 is not a TCP port number"):
        instance(port=1433, listeners=[dict(name="ag1.corp.example.com", port=0)])


@pytest.mark.parametrize("name", ["SQL1.Corp.Example.com", "sql1.corp.example.com\\mssqlserver",
                                  " sql1.corp.example.com\\MSSQLSERVER ", "sql1.corp.example.com\\"])
def test_instance_key_folds_every_way_of_writing_the_default_instance(name):
    assert instance_key_from_name(name) == ("sql1.corp.example.com", "MSSQLSERVER")
    assert instance_key("SQL1.corp.example.com") == instance_key("sql1.corp.example.com", "MSSQLServer")


def test_instance_key_of_a_named_instance():
    assert instance_key_from_name("SQL1.corp.example.com\\sales") == ("sql1.corp.example.com", "SALES")
    assert instance_key("sql1.corp.example.com", "Sales") == instance_key_from_name("sql1.corp.example.com\\SALES")
    assert instance_key("sql1.corp.example.com", "HR") != instance_key("sql1.corp.example.com")


# -- one home for the display name and the port default --------------------------------------

@pytest.mark.parametrize("host, instance, name", [
    ("sql1.corp.example.com", None, "sql1.corp.example.com"),
    ("sql1.corp.example.com", "MSSQLSERVER", "sql1.corp.example.com"),
    ("sql1.corp.example.com", "mssqlserver", "sql1.corp.example.com"),
    ("sql1.corp.example.com", "SALES", "sql1.corp.example.com\\SALES"),
])
def test_display_name(host, instance, name):
    assert display_name(host, instance) == name


@pytest.mark.parametrize("instance, port, expected", [
    ("MSSQLSERVER", None, 1433), (None, None, 1433), ("SALES", None, None), ("SALES", "dynamic", None),
    ("SALES", " Dynamic ", None), ("MSSQLSERVER", 1533, 1533), ("SALES", "1533", 1533),
])
def test_static_port(instance, port, expected):
    assert static_port(instance, port) == expected


def test_static_port_refuses_what_is_no_port():
    with pytest.raises(SpnError):
        static_port("SALES", "fast")
