# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mssql.conf: reading [network] tcpport and changing it with every other
byte of the file kept; files configparser would refuse are refused."""

from __future__ import annotations

import configparser

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._mssql_conf import (
    DEFAULT_TCP_PORT,
    MssqlConf,
    MssqlConfError,
    read_tcp_port,
)

# As mssql-conf writes it (configparser: "key = value", a blank line after each section).
TYPICAL = (b"[EULA]\naccepteula = Y\n\n"
           b"[network]\ntcpport = 1433\nforceencryption = 0\n\n"
           b"[sqlagent]\nenabled = false\n\n")


def set_port(content, port):
    return MssqlConf(content).set("network", "tcpport", str(port))


def configparser_view(content):
    """How mssql-conf (configparser) reads the file."""
    parser = configparser.ConfigParser()
    parser.read_string(content.decode("utf-8-sig"))
    return {section: dict(parser[section]) for section in parser.sections()}


def test_reads_the_port():
    assert read_tcp_port(MssqlConf(TYPICAL)) == ("1433", 1433)


def test_absent_setting_means_1433():
    conf = MssqlConf(b"[EULA]\naccepteula = Y\n")
    assert read_tcp_port(conf) == (None, DEFAULT_TCP_PORT)
    assert read_tcp_port(MssqlConf(b"")) == (None, 1433)


def test_value_that_is_not_a_port_is_reported_as_such():
    assert read_tcp_port(MssqlConf(b"[network]\ntcpport = abc\n")) == ("abc", None)
    assert read_tcp_port(MssqlConf(b"[network]\ntcpport = 70000\n")) == ("70000", None)


def test_replaces_only_the_value():
    changed = set_port(TYPICAL, 1533)
    assert changed == TYPICAL.replace(b"tcpport = 1433", b"tcpport = 1533")
    assert configparser_view(changed)["network"]["tcpport"] == "1533"


@pytest.mark.parametrize("line", [b"tcpport=1433", b"TcpPort = 1433", b"tcpport:1433", b"tcpport =\t1433  ",
                                  b"  tcpport = 1433"])
def test_keeps_the_spelling_and_spacing_of_the_line(line):
    content = b"[network]\n" + line + b"\n"
    changed = set_port(content, 2000)
    key_part = line[:line.index(b"1433")]
    assert changed == b"[network]\n" + key_part + b"2000\n"
    assert configparser_view(changed)["network"]["tcpport"] == "2000"


def test_every_other_byte_is_kept():
    """CRLF endings, comments of both kinds, a BOM, odd spacing, non-UTF-8
    bytes in another section, and no newline at the end."""
    content = (b"\xef\xbb\xbf# managed by hand\r\n[EULA]\r\naccepteula = Y\r\n\r\n; network settings\r\n"
               b"[network]\r\n  # the port\r\ntcpport   =   1433\r\nipaddress = 0.0.0.0\r\n\r\n"
               b"[filelocation]\r\ndefaultdatadir = /data/\xe9t\xe9\r\n[language]\r\nlcid = 1033")
    changed = set_port(content, 1533)
    assert changed == content.replace(b"tcpport   =   1433", b"tcpport   =   1533")


def test_adds_the_setting_to_the_section():
    content = b"[network]\nforceencryption = 1\n\n[sqlagent]\nenabled = false\n"
    changed = set_port(content, 1533)
    assert changed == b"[network]\nforceencryption = 1\ntcpport = 1533\n\n[sqlagent]\nenabled = false\n"
    assert configparser_view(changed)["sqlagent"] == {"enabled": "false"}


def test_adds_the_setting_after_a_continued_value_and_to_an_empty_section():
    content = b"[network]\nipaddress = 10.0.0.1\n  10.0.0.2\n# end\n"
    assert set_port(content, 1533) == b"[network]\nipaddress = 10.0.0.1\n  10.0.0.2\ntcpport = 1533\n# end\n"
    assert set_port(b"[network]\r\n", 1533) == b"[network]\r\ntcpport = 1533\r\n"


def test_adds_the_section_at_the_end():
    assert set_port(b"[EULA]\naccepteula = Y\n", 1533) == b"[EULA]\naccepteula = Y\n\n[network]\ntcpport = 1533\n"
    # No newline at the end: one is added to the last line; CRLF files get CRLF.
    assert set_port(b"[EULA]\r\naccepteula = Y", 1533) == \
        b"[EULA]\r\naccepteula = Y\r\n\r\n[network]\r\ntcpport = 1533\r\n"
    assert set_port(b"", 1533) == b"[network]\ntcpport = 1533\n"
    assert set_port(b"\xef\xbb\xbf", 1533) == b"\xef\xbb\xbf[network]\ntcpport = 1533\n"


def test_is_idempotent():
    once = set_port(TYPICAL, 1533)
    assert set_port(once, 1533) == once
    assert read_tcp_port(MssqlConf(once)) == ("1533", 1533)


@pytest.mark.parametrize("content, problem", [
    (b"tcpport = 1433\n[network]\n", "line 1: 'tcpport = 1433' comes before any [section] header"),
    (b"[network]\ntcpport 1433\n", "line 2: 'tcpport 1433' is neither a [section] header"),
    (b"[network]\ntcpport = 1433\n[network]\n", "line 3: section [network] appears a second time"),
    (b"[network]\ntcpport = 1433\nTCPPORT = 1533\n", "line 3: tcpport is set a second time in section [network]"),
    (b"[network\ntcpport = 1433\n", "line 1: '[network' is not a [section] header"),
    (b"[]\n", "line 1: '[]' is not a [section] header"),
    (b"[network]\n= 1433\n", "line 2: '= 1433' has no key before '='"),
])
def test_malformed_files_are_refused(content, problem):
    with pytest.raises(MssqlConfError) as error:
        MssqlConf(content, "/var/opt/mssql/mssql.conf")
    assert "/var/opt/mssql/mssql.conf %s" % problem in str(error.value)
    assert "nothing was changed" in str(error.value)


@pytest.mark.parametrize("content", [
    b"tcpport = 1433\n[network]\n",
    b"[network]\ntcpport 1433\n",
    b"[network]\ntcpport = 1433\n[network]\n",
    b"[network]\ntcpport = 1433\nTCPPORT = 1533\n",
])
def test_what_is_refused_configparser_refuses_too(content):
    with pytest.raises(configparser.Error):
        configparser_view(content)


def test_a_port_value_spanning_lines_is_refused():
    conf = MssqlConf(b"[network]\ntcpport = 1433\n  1533\n")
    with pytest.raises(MssqlConfError, match="continues on the next line"):
        read_tcp_port(conf)
    with pytest.raises(MssqlConfError, match="continues on the next line"):
        conf.set("network", "tcpport", "1533")


def test_a_network_section_spelt_differently_is_refused():
    with pytest.raises(MssqlConfError, match=r"section \[Network\] is not \[network\]"):
        read_tcp_port(MssqlConf(b"[Network]\ntcpport = 1433\n"))


def test_content_must_be_bytes():
    with pytest.raises(TypeError):
        MssqlConf("[network]\n")
