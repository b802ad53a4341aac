# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The estate as the inventory describes it: the one walk over the play's
hosts (``hostvars``: sqlauth_instances, linked servers, port settings, the
port results the roles registered), and what every filter and role derives
from it. Controller-side: module_utils code never reads role variables; the
variables read here are named literally, so that grep joins each reader to
its writer. The rules of one instance (display name, default port,
``dynamic``, required SPNs) live in module_utils/_sql_instances.py."""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    WRITABLE_KINDS as ENCRYPTION_WRITABLE_KINDS,
    needs_setting,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    SpnError,
    validate_instance_name,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    DYNAMIC_PORT,
    SQL_INSTANCE_OPTIONS,
    display_name,
    instance_key,
    instance_key_from_name,
    parse_instance,
    static_port,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import WINRM_OPTION_GROUPS, is_set

# The registered results of roles/sql_static_port/tasks/pin.yml, per platform.
PORT_RESULT_VARIABLES = {"windows": "sql_static_port_windows_result", "linux": "sql_static_port_linux_result"}
# The keys of a sqlauth_instances item that spn_facts takes, but its host (the
# rest, e.g. linked_servers and allow_spn_move, are the estate's own).
INSTANCE_KEYS = tuple(key for key in SQL_INSTANCE_OPTIONS if key != "host")
_FALSE = ("false", "no", "off", "0", "n", "f", "")


class EstateError(SqlAuthError):
    """The inventory does not describe an estate the collection can work on."""


def port_settings(variables, host):
    """How the sql_kerberos role treats one inventory host's ports, from its
    variables: dict(fqdn, platform, managed, result) where result is the
    host's registered sql_static_port result for its platform, or None."""
    managed = variables.get("sql_kerberos_manage_ports", True)
    if isinstance(managed, str):
        managed = managed.strip().lower() not in _FALSE
    platform = variables.get("sqlauth_platform") or "windows"
    result = variables.get(PORT_RESULT_VARIABLES.get(platform, PORT_RESULT_VARIABLES["windows"])) if managed else None
    return dict(fqdn=variables.get("sqlauth_host_fqdn") or host, platform=platform, managed=bool(managed),
                result=result if isinstance(result, dict) else None)


@dataclass
class EstateHost:
    """One inventory host: its name, its settings (port_settings') and its
    sqlauth_instances as written."""
    name: str
    fqdn: str
    platform: str
    manage_ports: bool
    port_result: dict | None
    items: object = field(default_factory=list)

    def instance_items(self, not_a_dict="must be a dict"):
        """The host's sqlauth_instances items, checked to be a list of dicts;
        ``not_a_dict`` ends the message for an item that is not one."""
        if not isinstance(self.items, list):
            raise EstateError("sqlauth_instances of %s must be a list, got %s" % (self.name, type(self.items).__name__))
        for item in self.items:
            if not isinstance(item, dict):
                raise EstateError("every item of sqlauth_instances of %s %s" % (self.name, not_a_dict))
        return self.items


@dataclass
class Estate:
    hosts: list

    # -- what spn_facts, rbkcd_delegate and the roles take -------------------

    def instances(self):
        """The ``instances`` of spn_facts for the whole estate: every item of
        each host's sqlauth_instances, its host the host's FQDN."""
        flat = []
        for host in self.hosts:
            for item in host.instance_items("needs a service_account"):
                if not item.get("service_account"):
                    raise EstateError("every item of sqlauth_instances of %s needs a service_account" % host.name)
                entry = {key: item[key] for key in INSTANCE_KEYS if key in item}
                entry["host"] = host.fqdn
                flat.append(entry)
        return flat

    def links(self):
        """The (front, back) pairs: each item of sqlauth_instances may list in
        ``linked_servers`` the instances it runs linked-server queries
        against, as SQL Server names them."""
        pairs = []
        for host in self.hosts:
            for item in host.instance_items():
                front = display_name(host.fqdn, item.get("instance"))
                backs = item.get("linked_servers") or []
                if not isinstance(backs, list) or not all(_is_link(back) for back in backs):
                    raise EstateError("linked_servers of %s must be a list of instance names (host.fqdn or "
                                      "host.fqdn\\NAME), or of {name: instance, callers: [users and groups]}, "
                                      "got %r" % (front, backs))
                for back in backs:
                    if isinstance(back, str):
                        pairs.append(dict(front=front, back=back.strip()))
                    else:
                        pairs.append(dict(front=front, back=back["name"].strip(),
                                          callers=[caller.strip() for caller in back.get("callers") or []]))
        return pairs

    def callers(self):
        """Every caller of every linked server (link_callers)."""
        return link_callers(self.links())

    def moves_allowed(self):
        """The display names of the instances whose SPNs may be taken from
        other accounts (``allow_spn_move: true``)."""
        return [display_name(host.fqdn, item.get("instance"))
                for host in self.hosts for item in host.instance_items() if item.get("allow_spn_move")]

    def port_hosts(self):
        """The hosts whose ports the sql_kerberos role manages."""
        return [host for host in self.hosts if host.manage_ports]

    def port_plan(self):
        """dict(hosts, problems): the inventory names of the hosts whose ports
        the sql_kerberos role pins or checks (managed, and every instance can
        be pinned), and per managed host that cannot be, its problems."""
        plan = dict(hosts=[], problems={})
        for host in self.port_hosts():
            found = port_requests(host.items, host.fqdn, host.platform)["problems"]
            if found:
                plan["problems"][host.name] = found
            else:
                plan["hosts"].append(host.name)
        return plan

    def port_checks(self):
        """Per host FQDN (lower case): dict(managed, platform, result), the
        drift report's view of each host's port step."""
        return {host.fqdn.lower(): dict(managed=host.manage_ports, platform=host.platform, result=host.port_result)
                for host in self.hosts}


def port_requests(instances, host, platform="windows"):
    """dict(instances, skipped, problems) for one host's sqlauth_instances:
    sql_static_port's ``instances`` for the items with TCP/IP, the items left
    out (TCP/IP disabled in the inventory) with the reason, and one sentence
    per item that cannot be pinned (no static port, bad port or name)."""
    result = dict(instances=[], skipped=[], problems=[])
    if not isinstance(instances, list):
        result["problems"].append("sqlauth_instances of %s must be a list, got %s" % (host, type(instances).__name__))
        return result
    ports = {}
    for item in instances:
        if not isinstance(item, dict):
            result["problems"].append("every item of sqlauth_instances of %s must be a dict, got %r" % (host, item))
            continue
        raw_name = item.get("instance") or DEFAULT_INSTANCE
        try:
            name = validate_instance_name(raw_name)
        except SpnError as error:
            result["problems"].append("%s: %s" % (host, error))
            continue
        label = display_name(host, name)
        if platform == "linux" and name != DEFAULT_INSTANCE:
            result["problems"].append("%s: SQL Server on Linux has a single instance, %s (sqlauth_platform is linux)"
                                      % (label, DEFAULT_INSTANCE))
            continue
        if item.get("tcp_enabled") is False:
            result["skipped"].append("%s: TCP/IP is disabled in the inventory (tcp_enabled: false)" % label)
            continue
        try:
            port = static_port(name, item.get("port"))
        except SpnError as error:
            result["problems"].append("%s: %s" % (label, error))
            continue
        if port is None:
            result["problems"].append(
                "%s has no static port (port: %s): give it one in sqlauth_instances, e.g. port: 1533, or leave it "
                "out of sql_static_port_instances" % (label, DYNAMIC_PORT if item.get("port") else "not set, dynamic "
                                                      "for a named instance"))
            continue
        if port in ports:
            result["problems"].append("%s and %s both have port %d: each instance needs a port of its own"
                                      % (ports[port], label, port))
            continue
        ports[port] = label
        result["instances"].append(dict(instance=name, port=port, enable_tcp=True))
    return result


def link_callers(links):
    """Every caller of the linked servers, each once (as first written), in
    name order: spn_facts' ``callers``."""
    seen = {}
    for link in links:
        for caller in link.get("callers") or []:
            seen.setdefault(caller.lower(), caller)
    return sorted(seen.values(), key=str.lower)


def _is_link(item):
    """A linked_servers item: the back end's name, or a mapping of it and its
    callers (users and groups who query through it)."""
    if isinstance(item, str):
        return bool(item.strip())
    if not isinstance(item, dict) or set(item) - {"name", "callers"}:
        return False
    callers = item.get("callers") or []
    return (isinstance(item.get("name"), str) and bool(item["name"].strip()) and isinstance(callers, list)
            and all(isinstance(caller, str) and caller.strip() for caller in callers))


# The WinRM options the sql_static_port role fills from a host's own Ansible
# connection variables, with the names Ansible's winrm connection plugin reads
# for each, in its order: the last one set wins.
WINRM_CONNECTION_VARIABLES = (
    ("winrm_host", ("ansible_host", "ansible_winrm_host")),
    ("winrm_port", ("ansible_port", "ansible_winrm_port")),
    ("winrm_scheme", ("ansible_winrm_scheme",)),
    ("winrm_transport", ("ansible_winrm_transport",)),
    ("winrm_username", ("ansible_user", "ansible_winrm_user")),
    ("winrm_password", ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password")),
    ("winrm_cert_validation", ("ansible_winrm_server_cert_validation",)),
    ("winrm_ca_cert", ("ansible_winrm_ca_trust_path",)),
    ("winrm_message_encryption", ("ansible_winrm_message_encryption",)),
    ("winrm_cert_pem", ("ansible_winrm_cert_pem",)),
    ("winrm_cert_key_pem", ("ansible_winrm_cert_key_pem",)),
)
# The connection plugins whose ansible_host, ansible_port, ansible_user and
# ansible_password describe a WinRM endpoint (psrp talks WinRM too); for any
# other (ssh to Windows, local) they describe something else.
WINRM_CONNECTIONS = ("winrm", "psrp")
# Where Ansible's winrm and psrp connections go when nothing says otherwise.
ANSIBLE_WINRM_DEFAULTS = dict(winrm_scheme="https", winrm_port=5986)


def winrm_connection(variables, overrides=None, host=None):
    """The WinRM options (the winrm_* options of sql_static_port) for one
    host, group by group (WINRM_OPTION_GROUPS: the endpoint, the
    credentials): each group whole from the first of ``overrides`` (the
    host's sqlauth_winrm) and the host's Ansible connection variables
    (``variables``, templated for that host: hostvars[inventory_hostname])
    that sets any option of it. The module reads no SQLAUTH_WINRM_* variable
    of a group given (winrm_host aside), so a group neither sets is left
    out, for those variables and then the module's defaults. Options of no
    group (winrm_connection_timeout) come from ``overrides``.

    The variables not named ansible_winrm_* count only for a host whose
    ansible_connection is winrm or psrp; for such a host an endpoint with
    neither scheme nor port is Ansible's, https on 5986. Without a scheme, a
    port from the variables implies it as Ansible's winrm connection does:
    http on 5985, https on any other. When ``overrides`` names a winrm_host,
    the credentials never come from the variables: they are for the host
    Ansible connects to. winrm_host falls back to ``host``."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise EstateError("sqlauth_winrm of %s must be a dict of winrm_* options, got %s"
                          % (host, type(overrides).__name__))
    connection = str(variables.get("ansible_connection") or "").rsplit(".", 1)[-1]
    over_winrm = connection in WINRM_CONNECTIONS
    given = {key: value for key, value in overrides.items() if is_set(value)}
    found = {}
    for option, names in WINRM_CONNECTION_VARIABLES:
        for name in names:
            if (over_winrm or name.startswith("ansible_winrm_")) and is_set(variables.get(name)):
                found[option] = (name, variables.get(name))
    grouped = {option for group in WINRM_OPTION_GROUPS.values() for option in group}
    options = {key: value for key, value in given.items() if key not in grouped}
    for group_name, group in WINRM_OPTION_GROUPS.items():
        if any(option in given for option in group):
            options.update({option: given[option] for option in group if option in given})
        elif any(option in found for option in group) and not (group_name == "credentials" and "winrm_host" in given):
            options.update({option: _connection_value(option, *found[option], host)
                            for option in group if option in found})
            if group_name == "endpoint" and "winrm_scheme" not in options and "winrm_port" in options:
                options["winrm_scheme"] = "http" if options["winrm_port"] == 5985 else "https"
    if over_winrm and "winrm_scheme" not in options and "winrm_port" not in options:
        options.update(ANSIBLE_WINRM_DEFAULTS)
    if not options.get("winrm_host") and host:
        options["winrm_host"] = host
    return options


def _connection_value(option, name, value, host):
    """The module's value of one Ansible connection variable; raises
    EstateError naming the variable for one the module cannot take."""
    if option == "winrm_port":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise EstateError("%s of %s must be a TCP port number, got %r" % (name, host, value)) from None
    if option == "winrm_transport":
        # Ansible takes a list (or a comma-separated string) and tries each in turn.
        transports = value if isinstance(value, list) else str(value).split(",")
        transports = [str(item).strip() for item in transports if str(item).strip()]
        if len(transports) != 1:
            raise EstateError("%s of %s names %s; sql_static_port connects with one transport: set "
                              "sqlauth_winrm.winrm_transport to the one to use"
                              % (name, host, ", ".join(transports) or "no transport"))
        return transports[0]
    return str(value)


def read_estate(hostvars, hosts):
    """The estate of the play's ``hosts``: each host's variables read once."""
    estate = []
    for name in hosts:
        variables = hostvars[name]
        settings = port_settings(variables, name)
        items = variables.get("sqlauth_instances")
        estate.append(EstateHost(name=name, fqdn=settings["fqdn"], platform=settings["platform"],
                                 manage_ports=settings["managed"], port_result=settings["result"],
                                 items=items or []))
    return Estate(estate)


def moves_allowed_keys(names):
    """instance_key of every instance name of Estate.moves_allowed()."""
    return {instance_key_from_name(name) for name in names or []}


def parse_instances(instances):
    """{instance_key: SqlInstance} of spn_facts-shaped instance options;
    raises EstateError naming the instance and the bad value."""
    known = {}
    for options in instances:
        try:
            instance = parse_instance(options)
        except SpnError as error:
            raise EstateError(str(error)) from None
        known[instance_key(instance.host, instance.instance)] = instance
    return known


def delegation_targets(links, instances):
    """rbkcd_delegate targets for linked-server pairs: per back-end instance,
    its service account, the front ends' service accounts as principals (with
    their hosts, for service identities such as NT SERVICE\\MSSQLSERVER that
    act as the host's computer account), and the SPN a linked server asks
    for: host:port over TCP, host:INSTANCE without a static port."""
    known = parse_instances(instances)
    problems, targets = [], {}
    for link in links:
        front, back = (known.get(instance_key_from_name(link.get(end) or "")) for end in ("front", "back"))
        for end, found in (("front", front), ("back", back)):
            if found is None:
                problems.append("linked server %s -> %s: %s is not an instance of the inventory"
                                % (link.get("front"), link.get("back"), link.get(end)))
        if front is None or back is None:
            continue
        if front is back:
            problems.append("%s lists itself as a linked server" % front.name)
            continue
        target = targets.get(back.name.lower())
        if target is None:
            forms = ["fqdn_port"] if back.tcp_enabled and back.port is not None else ["fqdn_instance"]
            target = targets[back.name.lower()] = dict(
                account=back.service_account, host=back.host, principals=[],
                spns=[required.spn for required in back.required_spns(forms)])
        principal = dict(account=front.service_account, host=front.host)
        if principal not in target["principals"]:
            target["principals"].append(principal)
    if problems:
        raise EstateError("; ".join(problems) + " (known instances: %s)"
                          % ", ".join(sorted(i.name for i in known.values())))
    return [targets[name] for name in sorted(targets)]


def links_needing_rbkcd(links, audit, over_classic=False):
    """The linked servers that need resource-based constrained delegation:
    all but those whose front end's service account may already delegate to
    the back end by classic constrained delegation (its
    msDS-AllowedToDelegateTo lists the back end's SPN, as spn_facts'
    ``audit`` reports it), unless ``over_classic``, and those whose front
    end's account is marked sensitive: the KDC refuses its delegation
    whatever the back end allows, so an entry would grant nothing (the drift
    report names it, DLG004)."""
    reports = {instance_key_from_name(report["name"]): report for report in (audit or {}).get("instances") or []}
    needed = []
    for link in links:
        front = reports.get(instance_key_from_name(link["front"]))
        back = reports.get(instance_key_from_name(link["back"]))
        state = (front or {}).get("service_account", {}).get("state") or {}
        if "not_delegated" in (state.get("flags") or []):
            continue
        if over_classic:
            needed.append(link)
            continue
        allowed = {spn.lower() for spn in state.get("allowed_to_delegate_to") or []}
        back_spns = {row["spn"].lower() for row in (back or {}).get("spns") or []
                     if row.get("form") in ("fqdn_port", "fqdn_instance")}
        if not allowed & back_spns:
            needed.append(link)
    return needed


def unconstrained_accounts(audit):
    """The DNs of the estate's service accounts (for virtual and system
    accounts, the host's computer account) trusted for unconstrained
    delegation, as spn_facts' ``audit`` reports them; domain controllers
    are left out. Each once, in name order."""
    found = {}
    for report in (audit or {}).get("instances") or []:
        account = report["service_account"]
        flags = (account.get("state") or {}).get("flags") or []
        if "trusted_for_delegation" in flags and "domain_controller" not in flags:
            found.setdefault(account["name"].lower(), account["dn"])
    return [found[name] for name in sorted(found)]


def encryption_types_accounts(audit, target="aes"):
    """The DNs of the estate's user and (g)MSA service accounts whose
    msDS-SupportedEncryptionTypes falls short of ``target`` (aes, aes_rc4;
    _encryption_types.needs_setting), as spn_facts' ``audit`` reports them:
    the input of kerberos_encryption_types. Each once, in name order. Left
    out for aes: users whose AES keys may be missing (ENC003 reports them;
    the module would refuse the whole call)."""
    found = {}
    for report in (audit or {}).get("instances") or []:
        account = report["service_account"]
        encryption = (account.get("state") or {}).get("encryption_types")
        if account.get("kind") in ENCRYPTION_WRITABLE_KINDS and encryption is not None and \
                needs_setting(encryption["value"], target) and \
                not (target == "aes" and encryption.get("aes_keys_possibly_missing")):
            found.setdefault(account["name"].lower(), account["dn"])
    return [found[name] for name in sorted(found)]
