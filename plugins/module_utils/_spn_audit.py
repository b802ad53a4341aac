# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPN audit behind spn_facts: for a whole inventory, which required SPNs
are ok, missing, on the wrong account or duplicated, which service accounts
cannot register their own SPNs, and the plan that fixes each problem.

I/O is batched searches whatever the inventory size, nothing per SPN: in a
forest of one domain one pass reads the accounts and the holders of their
SPNs together, one search per ~380 instances; otherwise the accounts in
the domain, then the holders in the Global Catalog. Then the user and gMSA
accounts' privileged group memberships (_group_membership.py): one search
for the groups and one per 1,000 accounts, one more per level of nesting
when some account is privileged. Classification and planning are pure.
"""
from __future__ import annotations

import re

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import (
    account_from_entry,
    match_accounts,
    note_ambiguous_names,
    parse_account_reference,
    raise_problems,
    refuse_other_domains,
    resolve_accounts,
    search_accounts,
    user_filters,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._callers import check_callers, parse_callers
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ad_time import iso
from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    aes_keys_possibly_missing,
    aes_keys_since,
    rodc_group_sids,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import (
    members_of_groups,
    read_privileged,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_group_filters,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ADS_RIGHT_DS_SELF,
    ADS_RIGHT_DS_WRITE_PROP,
    SELF_SID,
    SERVICE_PRINCIPAL_NAME_GUID,
    SecurityDescriptor,
    SecurityDescriptorError,
    is_granted,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._dns_names import aliases_without_spns
from ansible_collections.sqlauth.kerberos.plugins.module_utils._exposure_audit import read_exposure
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    MSSQL_SERVICE_CLASS,
    SpnError,
    parse_spn,
    short_host_name,
    spn_key,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    SPN_FORMS,
    instance_key,
    parse_instance,
)

STATUSES = ("ok", "missing", "wrong_account", "duplicate")
# schemaIDGUIDs are the same in every forest.
CLASS_SCHEMA_GUIDS = {
    "user": "bf967aba-0de6-11d0-a285-00aa003049e2",
    "computer": "bf967a86-0de6-11d0-a285-00aa003049e2",
    "msds-groupmanagedserviceaccount": "7b8b558a-93a5-4af7-adca-c017e67f1057",
    "msds-managedserviceaccount": "ce206244-5827-4a86-ba1c-1c0c386c1b64",
}
_EVERYONE_SID = "S-1-1-0"
_AUTHENTICATED_USERS_SID = "S-1-5-11"
_FACT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOLDER_ATTRIBUTES = ["sAMAccountName", "objectSid", "objectClass", "servicePrincipalName", "msDS-KeyVersionNumber"]
# The kinds of account whose privileged group memberships are reported: a
# computer's password is machine-made, out of reach of kerberoasting.
PRIVILEGE_CHECKED_KINDS = ("user", "gmsa", "msa")


# Accounts created alike carry byte-identical descriptors: parse each distinct
# one once. Parsing took ~2 ms per account, 2 s of spn_facts' CPU time
# for 1,000 instances (bench/README.md).
_DACLS = {}


def _parsed_dacl(descriptor):
    dacl = _DACLS.get(descriptor)
    if dacl is None:
        dacl = _DACLS[descriptor] = SecurityDescriptor.from_bytes(descriptor).dacl or []
    return dacl


def parsed_account_dacl(account):
    """The DACL of an account's nTSecurityDescriptor as read from the DC;
    bytes that do not parse are an error naming the account and attribute."""
    try:
        return _parsed_dacl(account.security_descriptor)
    except SecurityDescriptorError as error:
        raise SecurityDescriptorError(unreadable_descriptor(account.name, account.dn, error)) from None


def unreadable_descriptor(name, dn, error):
    return ("the nTSecurityDescriptor of %s (%s) read from the DC is not a valid security descriptor (%s); nothing "
            "written: check the object's permissions with ADUC or dsacls" % (name, dn, error))


def can_register_own_spns(account):
    """Whether the account, logged on as itself, may write its own SPNs: the
    servicePrincipalName write-property right, or for computers (and gMSAs)
    the validated SPN write, which checks the host name against dNSHostName.
    Only rights granted to SELF, the account itself, Everyone or
    Authenticated Users are seen; group memberships are not expanded."""
    if account.security_descriptor is None:
        return None
    dacl = parsed_account_dacl(account)
    trustees = [SELF_SID, account.sid, _EVERYONE_SID, _AUTHENTICATED_USERS_SID]
    object_class = CLASS_SCHEMA_GUIDS.get((account.structural_class or "").lower())
    if is_granted(dacl, trustees, ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID, object_class):
        return True
    return account.is_computer and is_granted(dacl, trustees, ADS_RIGHT_DS_SELF, SERVICE_PRINCIPAL_NAME_GUID,
                                              object_class)


def spn_term(spn):
    return "(servicePrincipalName=%s)" % escape_filter_value(spn_key(spn))


def find_spn_holders(client, spns, forest=True):
    """Every account holding any of ``spns``: {spn_key: [Account]}. Searches
    the Global Catalog (the whole forest) unless told not to or the DC is not
    a Global Catalog, in batched OR filters: one round trip per 500 SPNs
    (MAX_FILTER_TERMS), never one per SPN."""
    wanted = {spn_key(spn) for spn in spns}
    accounts, scope = search_holders(
        client, batched_or_filters(sorted(spn_term(spn) for spn in wanted), max_terms=MAX_FILTER_TERMS), forest)
    return holders_among(accounts, wanted), scope


def search_holders(client, filters, forest=True, attributes=None):
    """The accounts matching any of ``filters`` (one paged search each), with
    the NetBIOS name of their domain: in the Global Catalog (the whole
    forest) unless told not to or the DC is not one; ``attributes``
    default to HOLDER_ATTRIBUTES. Returns ([Account], search scope: forest
    or domain)."""
    use_global_catalog = forest and client.global_catalog() is not None
    base = "" if use_global_catalog else client.default_naming_context
    accounts = []
    for ldap_filter in filters:
        for entry in client.search(base, ldap_filter, attributes or HOLDER_ATTRIBUTES,
                                   global_catalog=use_global_catalog):
            domain = client.domain_of(entry.dn)
            accounts.append(account_from_entry(entry, domain["netbios"] if domain else None))
    return accounts, "forest" if use_global_catalog else "domain"


def managed_password_checks(client, gmsa_instances):
    """For instances running as a gMSA ((SqlInstance, Account)): whether the
    computer account of the instance's host may retrieve the gMSA's
    password (msDS-GroupMSAMembership names it, or a group it is in,
    nested groups included), else SQL Server cannot start as the gMSA:
    {instance_key: dict(host_account, may_retrieve)}. One search for the
    hosts' computer accounts, then _group_membership's for the groups named;
    nothing without gMSAs."""
    if not gmsa_instances:
        return {}
    hosts = sorted({instance.host.lower() for instance, _account in gmsa_instances})
    # Indexed terms only (dNSHostName is not indexed, _accounts.py); the
    # host's dNSHostName is compared below.
    terms = ["(servicePrincipalName=HOST/%s)" % escape_filter_value(host) for host in hosts]
    terms += ["(sAMAccountName=%s$)" % escape_filter_value(short_host_name(host)) for host in hosts]
    computers = {}
    for ldap_filter in batched_or_filters(sorted(terms), max_terms=MAX_FILTER_TERMS):
        for account in search_accounts(client, ["(&(objectClass=computer)%s)" % ldap_filter]).values():
            if account.kind != "computer":
                continue  # a gMSA is a computer too, and carries its host's dNSHostName
            for host in hosts:
                if (account.dns_host_name or "").lower() == host or \
                        account.sam_account_name.lower() == short_host_name(host).lower() + "$":
                    computers.setdefault(host, account)
    readers = {}
    for _instance, account in gmsa_instances:
        readers[account.sid] = account.password_readers() or []
    group_sids = sorted({sid for sids in readers.values() for sid in sids} - {c.sid for c in computers.values()})
    memberships = members_of_groups(client, {c.sid: c.as_member() for c in computers.values()}, group_sids) \
        if group_sids and computers else {}
    checks = {}
    for instance, account in gmsa_instances:
        computer = computers.get(instance.host.lower())
        if computer is None:
            checks[instance_key(instance.host, instance.instance)] = dict(host_account=None, may_retrieve=None)
            continue
        allowed = set(readers[account.sid])
        via_groups = {membership.group.sid for membership in memberships.get(computer.sid, [])}
        checks[instance_key(instance.host, instance.instance)] = dict(
            host_account=computer.name, may_retrieve=computer.sid in allowed or bool(allowed & via_groups))
    return checks


def host_spns_among(accounts, hosts):
    """The MSSQLSvc SPNs naming one of ``hosts`` (FQDNs), by FQDN or short
    name, with any port or instance, among the SPNs of ``accounts`` (those
    the audit has read: the service accounts and every holder of a required
    SPN), with their holders: {spn_key: (spn, [Account])}. No search of its
    own: a prefix search of servicePrincipalName is not indexed, and cost
    30 s at 1,000 hosts on the bench's directory (bench/README.md). An
    account holding only stale SPNs of a host is therefore not seen."""
    names = set()
    for host in hosts:
        names.update((host.lower(), short_host_name(host).lower()))
    found = {}
    for account in accounts:
        for spn in account.spns:
            try:
                parsed = parse_spn(spn)
            except SpnError:
                continue  # not an SPN the collection can judge
            if parsed.service_class != MSSQL_SERVICE_CLASS or parsed.host.lower() not in names:
                continue
            found.setdefault(spn_key(spn), (str(parsed), {}))[1][account.sid] = account
    return {key: (spn, sorted(by_sid.values(), key=lambda a: a.name.lower()))
            for key, (spn, by_sid) in found.items()}


def stale_spns(instances, host_spns):
    """Per host (lower-case FQDN), the MSSQLSvc SPNs naming it that no
    instance of the inventory requires in any form (an old port, a removed
    instance): [dict(spn, holders)]. ``instances``: (SqlInstance, the SID of
    its service account). Not stale: host:port on the account of an
    instance of that host with a dynamic port, which SQL Server registers
    for itself at every start."""
    required = set()
    self_registering = {}
    for instance, account_sid in instances:
        required.update(spn_key(r.spn) for r in instance.required_spns(SPN_FORMS))
        if instance.dynamic_port:
            self_registering.setdefault(instance.host.lower(), set()).add(account_sid)
    by_host = {}
    for key, (spn, holders) in sorted(host_spns.items()):
        if key in required:
            continue
        parsed = parse_spn(spn)
        host = next((instance.host.lower() for instance, _sid in instances
                     if parsed.host.lower() in (instance.host.lower(), short_host_name(instance.host).lower())),
                    None)
        if host is None:
            continue
        if parsed.port is not None and self_registering.get(host) and all(
                holder.sid in self_registering[host] for holder in holders):
            continue
        by_host.setdefault(host, []).append(dict(spn=spn, holders=[dict(name=h.name, dn=h.dn, sid=h.sid)
                                                                   for h in holders]))
    return by_host


def holders_among(accounts, wanted):
    """{spn_key: [Account]} for the SPN keys in ``wanted``, each holder once,
    by name."""
    holders = {}
    for account in accounts:
        for spn in account.spns:
            if spn_key(spn) in wanted:
                holders.setdefault(spn_key(spn), {})[account.sid] = account
    return {key: sorted(by_sid.values(), key=lambda a: a.name.lower()) for key, by_sid in holders.items()}


def read_accounts_and_holders(client, required, references, with_owner=False):
    """Where the domain holds every SPN holder (a forest of one domain, or a
    domain-scoped audit): the service accounts and the holders of the
    required SPNs in one pass. Each filter holds whole instances, the
    account's name and its SPNs, so most entries answer both and come back
    once: 1,000 instances are three searches (bench/README.md). Names
    missing from it are searched again with their fallbacks (name$).
    Returns ({reference: Account}, {spn_key: [Account]})."""
    refuse_other_domains(client, references)
    domain = client.own_domain()
    groups = [(reference.filter_terms(first_choice=True), [spn_term(r.spn) for r in spns])
              for _instance, reference, spns in required]
    candidates = search_accounts(client, batched_group_filters(groups), with_security_descriptor=True,
                                 with_owner=with_owner)
    resolved, problems = match_accounts(references, candidates, domain)
    fallbacks = [reference for reference in problems
                 if reference.filter_terms() != reference.filter_terms(first_choice=True)]
    if fallbacks:
        terms = {term for reference in fallbacks for term in reference.filter_terms()}
        candidates.update(search_accounts(client, user_filters(terms), with_security_descriptor=True,
                                          with_owner=with_owner))
        found, problems = match_accounts(references, candidates, domain)
        resolved.update(found)
    note_ambiguous_names(client, resolved, candidates)
    raise_problems(references, problems)
    wanted = {spn_key(r.spn) for _instance, _reference, spns in required for r in spns}
    return resolved, holders_among(candidates.values(), wanted)


def classify_spn(account, holders):
    """KCM's status of one required SPN given every account holding it."""
    if not holders:
        return "missing"
    if len(holders) > 1:
        return "duplicate"
    return "ok" if holders[0].sid == account.sid else "wrong_account"


def prepare_audit(instance_options, name_resolution=None):
    """Validate instances and their account names without any I/O:
    returns [(SqlInstance, AccountReference)]. ``name_resolution``:
    dns_facts' names, which tell the aliases that need no SPN (a CNAME);
    without them every alias needs its SPNs."""
    without = aliases_without_spns(name_resolution)
    instances = [parse_instance(options, without) for options in instance_options]
    return [(instance, parse_account_reference(instance.service_account, instance.host)) for instance in instances]


def audit(client, prepared, forms, forest=True, automation_accounts=(), exposure=True):
    """Audit prepared instances. Returns dict(instances, plan, summary,
    search_scope, domain). ``automation_accounts``: the accounts the
    playbooks bind as, whose rights on the estate are declared (the exposure
    audit does not name them). ``exposure``: False leaves out who else may
    write the accounts and hosts (no ``writers`` or ``host_computer`` in the
    reports), half of the audit's time on a large estate: for callers that
    act on the SPNs only (the spn_registration role)."""
    references = sorted({reference for _instance, reference in prepared}, key=lambda r: (r.text.lower(), r.kind))
    required = [(instance, reference, instance.required_spns(forms)) for instance, reference in prepared]
    use_global_catalog = forest and client.global_catalog() is not None
    if not use_global_catalog or client.global_catalog_is_domain():
        # With the owner when the exposure audit runs: it then reads no account again.
        accounts, holders = read_accounts_and_holders(client, required, references, with_owner=exposure)
        scope = "forest" if use_global_catalog else "domain"
    else:
        accounts = resolve_accounts(client, references, with_security_descriptor=True)
        holders, scope = find_spn_holders(client, [r.spn for entry in required for r in entry[2]], forest)

    checked = {account.sid: account.as_member() for account in accounts.values()
               if account.kind in PRIVILEGE_CHECKED_KINDS}
    privileged, rodc_groups = read_privileged(client, checked, also_read=rodc_group_sids)
    aes_since = aes_keys_since(rodc_groups.values())
    reports = []
    for instance, reference, spns in required:
        account = accounts[reference]
        reports.append(instance_report(instance, reference.text, account, spns, holders,
                                       can_register_own_spns(account), privileged.get(account.sid)))
        # Only a user's keys come from a password a person set; a gMSA's are the DC's.
        reports[-1]["service_account"]["state"]["encryption_types"]["aes_keys_possibly_missing"] = \
            aes_keys_possibly_missing(account.pwd_last_set, aes_since) if account.kind == "user" else None
    flag_conflicts(reports)
    # gMSAs: may the SQL host's computer account retrieve the password?
    gmsa_hosts = managed_password_checks(client, [(instance, accounts[reference]) for instance, reference in prepared
                                                  if accounts[reference].kind == "gmsa"])
    for (instance, _reference), report in zip(prepared, reports):
        report["service_account"]["managed_password"] = gmsa_hosts.get(instance_key(instance.host, instance.instance))
    # Stale SPNs of each host, on the report of its first instance.
    resolved = [(instance, accounts[reference].sid) for instance, reference in prepared]
    read = {account.sid: account for account in list(accounts.values())
            + [holder for found in holders.values() for holder in found]}
    stale = stale_spns(resolved, host_spns_among(read.values(), {i.host for i, _r in prepared}))
    for report in reports:
        report["stale_spns"] = stale.pop(report["host"].lower(), [])
    if not exposure:
        return dict(instances=reports, plan=build_plan(reports), summary=summarize(reports), search_scope=scope,
                    domain=dict(aes_keys_since=iso(aes_since)))
    # Who else may write the accounts and the hosts' computer objects (each host once, on its first instance).
    writers = read_exposure(client, {account.sid for account in accounts.values()}, [i.host for i, _r in prepared],
                            automation_accounts, read={account.sid: account for account in accounts.values()})
    hosts_seen = set()
    for (instance, reference), report in zip(prepared, reports):
        # None: not read (an account of another domain, found through the Global Catalog).
        report["service_account"]["writers"] = writers["accounts"].get(accounts[reference].sid)
        host = instance.host.lower()
        report["host_computer"] = None if host in hosts_seen else writers["hosts"].get(host)
        hosts_seen.add(host)
    return dict(instances=reports, plan=build_plan(reports), summary=summarize(reports), search_scope=scope,
                domain=dict(aes_keys_since=iso(aes_since), **writers["domain"]))


def instance_report(instance, account_input, account, required_spns, holders, can_register, privileged=None):
    """One instance's report. ``privileged`` is the account's memberships of
    the privileged groups ([Membership], _group_membership.py), or None when
    not checked (computer accounts): the report's privileged_groups names
    them, privileged_memberships says how (member, primary_group, nested)."""
    spn_rows = []
    for required in required_spns:
        spn_holders = holders.get(spn_key(required.spn), [])
        spn_rows.append(dict(spn=required.spn, form=required.form, status=classify_spn(account, spn_holders),
                             holders=[dict(name=h.name, dn=h.dn, sid=h.sid) for h in spn_holders]))
    findings = []
    if instance.dynamic_port:
        findings.append("dynamic_port")
    if not instance.tcp_enabled:
        findings.append("tcp_disabled")
    if can_register is False:
        findings.append("spn_write_acl_missing")
    report = instance.summary()
    service_account = dict(account.summary(), input=account_input, state=account.state(), privileged_groups=None,
                           privileged_memberships=None)
    if privileged is not None:
        service_account.update(privileged_groups=[membership.group.name for membership in privileged],
                               privileged_memberships=[membership.summary() for membership in privileged])
    report.update(service_account=service_account, spns=spn_rows, can_register_own_spns=can_register,
                  findings=findings)
    report["status"] = "ok" if not findings and all(r["status"] == "ok" for r in spn_rows) else "drift"
    return report


def flag_conflicts(reports):
    """An SPN can live on one account only: instances that need the same SPN
    on different accounts (AG replicas running under different accounts)
    cannot all be satisfied."""
    wanted_by = {}
    for report in reports:
        for row in report["spns"]:
            wanted_by.setdefault(spn_key(row["spn"]), {}).setdefault(report["service_account"]["sid"], []).append(
                report["name"])
    for report in reports:
        for row in report["spns"]:
            accounts = wanted_by[spn_key(row["spn"])]
            if len(accounts) > 1:
                row["conflict"] = sorted(name for names in accounts.values() for name in names
                                         if name != report["name"])
                if "spn_conflict" not in report["findings"]:
                    report["findings"].append("spn_conflict")
                report["status"] = "drift"


def build_plan(reports):
    """The changes that fix every finding, each once, in the order to apply
    them: ports first (SPNs name the port), then ACLs, then SPNs."""
    steps = {}

    def add(key, step):
        if key in steps:
            steps[key]["instances"].append(step["instances"][0])
        else:
            steps[key] = step

    for report in reports:
        name = report["name"]
        account = report["service_account"]["name"]
        if "dynamic_port" in report["findings"]:
            add(("port", name), dict(action="set_static_port", instances=[name], module="sql_static_port",
                                     description="pin a static TCP port on %s (dynamic ports break port SPNs)" % name))
        if "tcp_disabled" in report["findings"]:
            add(("tcp", name), dict(action="enable_tcp", instances=[name], module="sql_static_port",
                                    description="enable TCP/IP on %s if clients should reach it over TCP" % name))
        if "spn_write_acl_missing" in report["findings"]:
            add(("acl", account), dict(action="grant_spn_write_acl", account=account, instances=[name],
                                       module="spn_acl",
                                       description="let %s read and write its own servicePrincipalName" % account))
        for row in report["spns"]:
            if row["status"] == "ok" or row.get("conflict"):
                continue
            others = [h["name"] for h in row["holders"] if h["sid"] != report["service_account"]["sid"]]
            if row["status"] == "missing":
                step = dict(action="add_spn", spn=row["spn"], account=account,
                            description="register %s on %s" % (row["spn"], account))
            elif others and len(others) == len(row["holders"]):
                step = dict(action="move_spn", spn=row["spn"], account=account, remove_from=others,
                            description="move %s from %s to %s" % (row["spn"], ", ".join(others), account))
            else:
                step = dict(action="remove_duplicate_spn", spn=row["spn"], account=account, remove_from=others,
                            description="remove the duplicate %s from %s, keeping it on %s"
                            % (row["spn"], ", ".join(others), account))
            step.update(instances=[name], module="spn_register")
            add(("spn", spn_key(row["spn"])), step)
    order = {"set_static_port": 0, "enable_tcp": 0, "grant_spn_write_acl": 1}
    return sorted(steps.values(), key=lambda step: order.get(step["action"], 2))


def summarize(reports):
    counts = {status: 0 for status in STATUSES}
    for report in reports:
        for row in report["spns"]:
            counts[row["status"]] += 1
    return dict(instances=len(reports), instances_with_drift=sum(r["status"] != "ok" for r in reports),
                spns=counts)


def validate_fact_name(fact_name):
    """A module's fact_name option: None or a variable name."""
    if fact_name is not None and not _FACT_NAME.match(fact_name):
        raise SpnError("fact_name %r is not a variable name: use letters, digits and underscores, starting with a "
                       "letter or underscore" % fact_name)
    return fact_name


def validate_spn_facts(params):
    """spn_facts' input, checked before connecting."""
    fact_name = validate_fact_name(params.get("fact_name"))
    return dict(prepared=prepare_audit(params["instances"], params.get("name_resolution")), forms=params["spn_forms"],
                forest=params["search_scope"] == "forest", fact_name=fact_name,
                automation_accounts=params.get("automation_accounts") or [],
                callers=parse_callers(params.get("callers")), exposure=params.get("exposure_audit", True))


def spn_facts(client, request, check_mode=False):
    """spn_facts' operation: read-only in any mode. The report is returned
    once: as the fact named by fact_name when there is one (with its
    summary in the result), in the result otherwise. Returned twice, its
    JSON encoding and Ansible's scrubbing of secrets out of it were a third
    of the module's time at 1,000 instances (bench/README.md)."""
    report = audit(client, request["prepared"], request["forms"], request["forest"],
                   request.get("automation_accounts") or (), exposure=request.get("exposure", True))
    report["callers"] = check_callers(client, request.get("callers") or [])
    result = dict(changed=False, ldap_round_trips=client.round_trips, ldap_binds=client.binds)
    if request.get("fact_name"):
        result.update(summary=report["summary"], search_scope=report["search_scope"],
                      ansible_facts={request["fact_name"]: report})
    else:
        result.update(report)
    return result
