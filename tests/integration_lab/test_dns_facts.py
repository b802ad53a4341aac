"""dns_facts against the lab DC's own DNS server (Samba's internal DNS on
127.0.0.1:53, seeded from scenarios.yml ``dns`` as dnsNode objects): every
seeded case found with its check, each answer confirmed by the host(1)
command asking the same server apart from the collection; nothing written
(highestCommittedUSN). The DNS results decide the aliases' SPNs in
spn_facts and in the KDC probe. DNS servers that refuse or never answer
give an error naming them, in bounded time."""
import socket
import subprocess
import threading
import time

import pytest
from conftest import AnsibleRunner

# Every case the lab seeds (scenarios.yml, dns; SQLOLD's computer account
# carries an old dNSHostName; sqlnone has no record at all).
INSTANCES = [
    dict(host="sql1.corp.example.test", service_account="CORP\\sqlsvc1",
         listeners=[dict(name="aglisten1.corp.example.test", port=1433)],
         aliases=["sales-db.corp.example.test", "crm-db.corp.example.test", "old-crm.corp.example.test"]),
    dict(host="sql8.corp.example.test", service_account="CORP\\sqlsvc8"),
    dict(host="sqlold.corp.example.test", service_account="CORP\\sqlsvc8"),
    dict(host="sqlnone.corp.example.test", service_account="CORP\\sqlsvc8"),
]
EXPECTED = {
    "sql1.corp.example.test": ("host", "address", []),
    "aglisten1.corp.example.test": ("listener", "address", ["several_addresses"]),
    "sales-db.corp.example.test": ("alias", "address", ["alias_address"]),
    "crm-db.corp.example.test": ("alias", "cname", ["alias_cname"]),
    "old-crm.corp.example.test": ("alias", "cname", ["name_elsewhere"]),
    "sql8.corp.example.test": ("host", "address", ["ptr_mismatch"]),
    "sqlold.corp.example.test": ("host", "address", ["host_name_mismatch"]),
    "sqlnone.corp.example.test": ("host", "none", ["unresolved"]),
}
SALES_DB_SPN = "MSSQLSvc/sales-db.corp.example.test:1433"


def host_lookup(name):
    """host(1) asking the lab DC's DNS server: (addresses, CNAME target,
    PTR names) as it prints them."""
    out = subprocess.run(["host", name, "127.0.0.1"], capture_output=True, text=True, check=False).stdout
    addresses = [line.rsplit(" ", 1)[1] for line in out.splitlines() if " has address " in line]
    aliases = [line.rsplit(" ", 1)[1].rstrip(".") for line in out.splitlines() if " is an alias for " in line]
    pointers = [line.rsplit(" ", 1)[1].rstrip(".") for line in out.splitlines() if " domain name pointer " in line]
    return addresses, aliases, pointers


@pytest.fixture(scope="module")
def resolved(lab, tmp_path_factory):
    """dns_facts in check mode with the default DNS servers."""
    runner = AnsibleRunner(tmp_path_factory.mktemp("dns"))
    usn = lab.highest_committed_usn()
    result = runner("sqlauth.kerberos.dns_facts", dict(lab.connection, instances=INSTANCES), check=True)
    assert not result["failed"], result
    assert lab.highest_committed_usn() == usn
    return result


def test_every_seeded_case_is_found_with_its_check(resolved):
    found = {row["name"]: (row["role"], row["record"], [s["status"] for s in row["statuses"]])
             for row in resolved["names"]}
    assert found == EXPECTED
    assert resolved["summary"]["names"] == len(EXPECTED) and resolved["changed"] is False


def test_answers_are_those_host_gets_from_the_same_server(resolved):
    for row in resolved["names"]:
        addresses, aliases, dummy = host_lookup(row["name"])
        assert sorted(a["address"] for a in row["addresses"]) == sorted(set(addresses)), row
        assert row["chain"] == aliases, row
        if row["role"] != "alias":
            for item in row["addresses"]:
                assert item["ptr"] == host_lookup(item["address"])[2], item
    ptr = next(r for r in resolved["names"] if r["name"] == "sql8.corp.example.test")["statuses"][0]
    assert ptr["addresses"] == [dict(address="10.20.0.8", names=["sql9.corp.example.test"],
                                     pointer="8.0.20.10.in-addr.arpa", zone="0.20.10.in-addr.arpa")]


def test_default_servers_are_the_ldap_servers_when_the_controller_knows_no_srv(resolved):
    """This controller's resolver has no _ldap._tcp.dc._msdcs records for the
    lab domain: dns_facts asks the LDAP server's address."""
    assert (resolved["dns_servers"], resolved["dns_servers_from"]) == (["127.0.0.1"], "ldap_server")


def test_domain_controllers_from_the_srv_records(lab, monkeypatch):
    """The SRV path, asked of the lab DC's DNS server itself: its
    _ldap._tcp.dc._msdcs records lead to dc1, 127.0.0.1 (host confirms)."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_lookup import Resolver
    assert Resolver([("127.0.0.1", 53)], 5).domain_controllers(lab.realm.lower()) == ["127.0.0.1"]
    # With a controller resolver that knows the domain (here the DC's own), the SRV path wins.
    from ansible_collections.sqlauth.kerberos.plugins.module_utils import _dns_facts
    monkeypatch.setattr(_dns_facts, "system_servers", lambda: [("127.0.0.1", 53)])
    client = type("Client", (), dict(options=dict(server="no-such-dc.invalid")))()
    assert _dns_facts.domain_dns_servers(client, lab.realm.lower(), 5) == ([("127.0.0.1", 53)], "srv")
    monkeypatch.setattr(_dns_facts, "system_servers", lambda: [])
    with pytest.raises(_dns_facts.DnsError, match="no-such-dc.invalid has no address; set dns_servers"):
        _dns_facts.domain_dns_servers(client, lab.realm.lower(), 5)
    srv = subprocess.run(["host", "-t", "SRV", "_ldap._tcp.dc._msdcs.%s" % lab.realm.lower(), "127.0.0.1"],
                         capture_output=True, text=True, check=False).stdout
    assert "dc1.%s." % lab.realm.lower() in srv


def test_spn_facts_requires_the_spns_dns_adds(lab, run_module, resolved):
    """The A-record alias adds its SPNs, the CNAME alias and the alias that
    leads elsewhere none; without DNS results every alias adds them."""
    instance = dict(INSTANCES[0], port=1433)
    with_dns = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[instance],
                                                             name_resolution=resolved["names"]), check=True)
    spns = [row["spn"] for row in with_dns["instances"][0]["spns"]]
    assert SALES_DB_SPN in spns and "MSSQLSvc/sales-db:1433" in spns
    assert not [spn for spn in spns if "crm-db" in spn or "old-crm" in spn]
    assert {row["form"] for row in with_dns["instances"][0]["spns"] if "sales-db" in row["spn"]} == {
        "alias_fqdn_port", "alias_fqdn_instance", "alias_netbios_port", "alias_netbios_instance"}
    without = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=[instance]), check=True)
    assert "MSSQLSvc/crm-db.corp.example.test:1433" in [row["spn"] for row in without["instances"][0]["spns"]]


def test_the_kdc_probe_asks_for_the_spns_dns_adds(lab, kdc, run_module, resolved):
    """Before site.yml nobody holds sales-db's SPN: the probe asks for it and
    the KDC refuses it, as kvno shows; no CNAME alias SPN is asked for."""
    result = run_module("sqlauth.kerberos.kerberos_probe", dict(
        lab.connection, instances=[dict(INSTANCES[0], port=1433)], name_resolution=resolved["names"],
        kerberos_principal="alice@%s" % lab.realm, kerberos_password=lab.accounts["alice"]["password"],
        rate_limit=0), check=True, env=dict(KRB5_CONFIG=lab.krb5_config))
    assert not result["failed"], result
    rows = {row["spn"]: row for row in result["tickets"]}
    assert not [spn for spn in rows if "crm-db" in spn]
    kdc.kinit("alice")
    issued, output = kdc.kvno(SALES_DB_SPN)
    assert rows[SALES_DB_SPN]["issued"] is issued is False, (rows[SALES_DB_SPN], output)


# -- DNS servers that do not answer ------------------------------------------------

class SilentDnsServer:
    """A UDP socket on 127.0.0.1 that reads queries and never answers."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self._swallow, daemon=True).start()

    def _swallow(self):
        while True:
            try:
                self.socket.recvfrom(4096)
            except OSError:
                return
            self.queries += 1

    def close(self):
        self.socket.close()


def test_a_dns_server_that_never_answers_fails_within_twice_the_timeout(lab, run_module):
    server = SilentDnsServer()
    try:
        usn, started = lab.highest_committed_usn(), time.monotonic()
        result = run_module("sqlauth.kerberos.dns_facts", dict(
            lab.connection, instances=INSTANCES, dns_servers=["127.0.0.1:%d" % server.port], dns_timeout=2))
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert result["failed"]
    assert "DNS server 127.0.0.1:%d did not answer within 2 s" % server.port in result["msg"], result["msg"]
    assert server.queries > 0
    # The documented bound (twice dns_timeout), plus ansible-playbook's own start-up.
    assert elapsed < 2 * 2 + 15, elapsed
    assert lab.highest_committed_usn() == usn


def test_a_dns_server_that_refuses_is_named(lab, run_module):
    """Nothing listens on the port: the kernel refuses each query."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = run_module("sqlauth.kerberos.dns_facts", dict(
        lab.connection, instances=INSTANCES, dns_servers=["127.0.0.1:%d" % port], dns_timeout=2))
    assert result["failed"]
    assert "DNS server 127.0.0.1:%d" % port in result["msg"], result["msg"]


@pytest.mark.parametrize("args, message", [
    (dict(dns_servers=["dc1.corp.example.test"]), "dns_servers item 'dc1.corp.example.test' is not an IP address"),
    (dict(dns_timeout=0), "dns_timeout must be more than 0"),
    (dict(dns_concurrency=0), "dns_concurrency must be between 1 and 256"),
    (dict(instances=[dict(host="sql1.corp.example.test", service_account="x", aliases=["sales"])]),
     "alias 'sales' must be the fully qualified DNS name"),
])
def test_bad_input_is_named_and_nothing_is_asked(lab, run_module, args, message):
    usn = lab.highest_committed_usn()
    result = run_module("sqlauth.kerberos.dns_facts", dict(dict(lab.connection, instances=INSTANCES), **args))
    assert result["failed"] and message in result["msg"], result["msg"]
    assert lab.highest_committed_usn() == usn


def test_generate_mode_writes_the_dns_fixes_for_a_dns_admin(lab, run_module, resolved):
    """The drift report of the lab's DNS cases in generate mode: the
    PowerShell for a DNS admin (the roles never apply it), for the records
    as the lab DC holds them, parsed with a real PowerShell grammar."""
    from ansible_collections.sqlauth.kerberos.plugins.module_utils._drift_report import build_report, to_powershell
    from powershell_grammar import syntax_problems
    audit = run_module("sqlauth.kerberos.spn_facts", dict(lab.connection, instances=INSTANCES,
                                                          name_resolution=resolved["names"]), check=True)
    report = build_report(audit, [], None, {}, mode="generate", dns=resolved)
    found = {(c["id"], c["subject"]) for h in report["hosts"] for i in h["instances"] for c in i["checks"]
             if c["check"] == "dns" and c["result"] == "drift"}
    assert found == {("DNS002", "crm-db.corp.example.test"), ("DNS003", "sales-db.corp.example.test"),
                     ("DNS007", "old-crm.corp.example.test"), ("DNS008", "aglisten1.corp.example.test"),
                     ("DNS004", "sql8.corp.example.test"), ("DNS005", "sqlold.corp.example.test"),
                     ("DNS001", "sqlnone.corp.example.test")}
    script = to_powershell(report)
    assert syntax_problems(script) == []
    for line in ("Remove-DnsServerResourceRecord -ZoneName '0.20.10.in-addr.arpa' -Name '8' -RRType Ptr -RecordData "
                 "'sql9.corp.example.test.' -Force",
                 "Add-DnsServerResourceRecordPtr -ZoneName '0.20.10.in-addr.arpa' -Name '8' -PtrDomainName "
                 "'sql8.corp.example.test.'",
                 "Add-DnsServerResourceRecordCName -ZoneName 'corp.example.test' -Name 'old-crm' -HostNameAlias "
                 "'sql1.corp.example.test.'",
                 "# Add-DnsServerResourceRecordA -ZoneName 'corp.example.test' -Name 'sqlnone' -IPv4Address ADDRESS "
                 "-CreatePtr"):
        assert line in script.splitlines(), line
    # The A-record alias's SPNs are SPN findings with their setspn lines.
    assert "setspn -S '%s' 'CORP\\sqlsvc1'" % SALES_DB_SPN in script
