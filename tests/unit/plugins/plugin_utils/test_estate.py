# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's port settings as the controller reads them from the inventory
(plugin_utils/_estate): pure, from the host's variables."""

from __future__ import annotations

import pytest

from ansible_collections.sqlauth.kerberos.plugins.plugin_utils._estate import port_settings

HOST = "sql1.corp.example.com"


WINDOWS_RESULT = dict(changed=False, instances=[dict(instance="MSSQLSERVER", changed=False)])
LINUX_RESULT = dict(changed=True, instances=[dict(instance="MSSQLSERVER", changed=True)])


def test_port_settings_defaults():
    assert port_settings({}, HOST) == dict(fqdn=HOST, platform="windows", managed=True, result=None)


def test_port_settings_fqdn_and_platform():
    variables = dict(sqlauth_host_fqdn="SQLLNX1.corp.example.com", sqlauth_platform="linux")
    settings = port_settings(variables, "lnx")
    # The FQDN is given as written; the drift report lowers it.
    assert (settings["fqdn"], settings["platform"]) == ("SQLLNX1.corp.example.com", "linux")
    # Empty values fall back to the inventory name and Windows.
    settings = port_settings(dict(sqlauth_host_fqdn="", sqlauth_platform=None), "sql1")
    assert (settings["fqdn"], settings["platform"]) == ("sql1", "windows")


@pytest.mark.parametrize("platform, result", [(None, WINDOWS_RESULT), ("windows", WINDOWS_RESULT),
                                              ("linux", LINUX_RESULT)])
def test_port_settings_read_the_result_registered_for_the_platform(platform, result):
    variables = dict(sql_static_port_windows_result=WINDOWS_RESULT, sql_static_port_linux_result=LINUX_RESULT)
    if platform:
        variables["sqlauth_platform"] = platform
    assert port_settings(variables, HOST)["result"] is result


def test_port_settings_ignore_the_other_platforms_result():
    variables = dict(sqlauth_platform="linux", sql_static_port_windows_result=WINDOWS_RESULT)
    assert port_settings(variables, HOST)["result"] is None
    assert port_settings(dict(sql_static_port_linux_result=LINUX_RESULT), HOST)["result"] is None


@pytest.mark.parametrize("managed, expected", [
    (True, True), (False, False), (1, True), (0, False),
    ("true", True), ("yes", True), ("on", True), ("1", True), ("Y", True), ("anything", True),
    ("false", False), ("False", False), ("no", False), (" NO ", False), ("off", False), ("0", False),
    ("n", False), ("f", False), ("", False), ("  ", False),
])
def test_port_settings_managed(managed, expected):
    variables = dict(sql_kerberos_manage_ports=managed, sql_static_port_windows_result=WINDOWS_RESULT)
    settings = port_settings(variables, HOST)
    assert settings["managed"] is expected
    # An unmanaged host's registered result is not read.
    assert settings["result"] is (WINDOWS_RESULT if expected else None)


@pytest.mark.parametrize("result", [None, "skipped", [], ["MSSQLSERVER"], 0])
def test_port_settings_result_that_is_not_a_dict_is_none(result):
    assert port_settings(dict(sql_static_port_windows_result=result), HOST)["result"] is None
