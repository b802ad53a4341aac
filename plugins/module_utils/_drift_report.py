# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report: every check of every SQL Server instance, from what the
read-only modules found (spn_facts, rbkcd_delegate and sql_static_port in
check mode), with the fix for each problem spelled out, as the commands an
AD administrator runs, and rendered as JSON data, JUnit XML, a
PowerShell script and LDIF (the HTML page is a Jinja2 template on the
controller: plugin_utils/_drift_report_html.py). The LDIF is the modify
requests the modules send (_spn_register, _rbkcd), written by ldap3
(_ldif.py). Pure code, no I/O.

A check is one thing that is right or wrong about one instance: one required
SPN, the service account's right to write its own SPNs, one linked server's
delegation, the static port, TCP/IP. Its ``result`` is ok, drift, skipped
(not checked, with the reason) or waived (drift the inventory accepts); its
``status`` says which problem, and a finding carries its catalogue entry's
``id``, ``title``, ``severity`` and ``symptom`` (_catalogue.py)."""
from __future__ import annotations

import datetime
import json
from xml.etree import ElementTree

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import is_expired
from ansible_collections.sqlauth.kerberos.plugins.module_utils._catalogue import (
    SEVERITIES,
    CatalogueError,
    at_least,
    classify,
    parse_severity_overrides,
    parse_waivers,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._encryption_types import (
    TARGETS as ENCRYPTION_TARGETS,
    WRITABLE_KINDS as ENCRYPTION_WRITABLE_KINDS,
    etype_names,
    needs_setting,
    planned_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_encryption import encryption_types_modification
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldif import modify_record
from ansible_collections.sqlauth.kerberos.plugins.module_utils._rbkcd import (
    RBCD_ATTRIBUTE,
    build_descriptor,
    delegation_ace,
    guarded_modification,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_register import spn_modification
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import (
    DYNAMIC_PORT,
    instance_key,
    instance_key_from_name,
)

RESULTS = ("ok", "drift", "skipped", "waived")
# The order checks are listed and fixed in: ports first (SPNs name the port),
# the account SQL Server runs as and its privileges, the right to write
# SPNs, the SPNs, delegation, which needs the SPNs, and last the delegation
# flags that resource-based constrained delegation replaces.
CHECK_ORDER = ("kdc_clock", "dns", "static_port", "tcp_enabled", "account", "account_privilege", "spn_write_acl", "spn", "kdc",
               "encryption", "delegation",
               "delegation_risk", "exposure")
SPN_WRITE_RIGHTS = (("RPWP;servicePrincipalName", "read and write servicePrincipalName"),
                    ("WS;Validated write to service principal name", "validated write to SPNs"))
_AD_CMDLET_NOUN = {"user": "ADUser", "computer": "ADComputer", "gmsa": "ADServiceAccount",
                   "msa": "ADServiceAccount"}
# The primary group an account gets when created: Domain Users, or Domain
# Computers for (group) managed service accounts.
_DEFAULT_PRIMARY_RID = {"user": 513, "gmsa": 515, "msa": 515}
_VIA_SHOWN = {"member": "", "primary_group": " (primary group)", "nested": " (nested)"}


def _ps_quote(text):
    return "'%s'" % text.replace("'", "''")


def _check(check, subject, status, detail, fix=None, commands=(), ldif=(), account=None):
    result = "ok" if status == "ok" else "skipped" if status == "skipped" else "drift"
    entry = dict(check=check, subject=subject, result=result, status=status, detail=detail)
    if account:
        entry["account"] = account
    if result == "drift":
        entry.update(fix=fix, commands=list(commands), ldif=list(ldif))
    return entry


def _setspn(option, spn, account):
    """A setspn line; quoted for PowerShell, where the script runs."""
    return "setspn %s %s %s" % (option, _ps_quote(spn), _ps_quote(account))


def _ldif_spn(dn, operation, spn):
    """The LDIF of spn_register's modify that adds or deletes (``operation``)
    one SPN: one record per value, so that ldapmodify applying the file
    record by record stops at a refused value only."""
    return modify_record(dn, spn_modification(**{operation: [spn]}))


# -- the checks ----------------------------------------------------------------

def spn_checks(report):
    """One check per required SPN of a spn_facts instance report."""
    account = report["service_account"]
    checks = []
    for row in report["spns"]:
        spn, status = row["spn"], row["status"]
        others = [holder for holder in row["holders"] if holder["sid"] != account["sid"]]
        holders = ", ".join(holder["name"] for holder in row["holders"]) or "no account"
        if row.get("conflict"):
            checks.append(_check("spn", spn, "conflict",
                                 "%s is also required on another account by %s" % (spn, ", ".join(row["conflict"])),
                                 fix="Run the instances that share this name under one service account: an SPN can "
                                     "live on a single account.", account=account["name"]))
            continue
        if status == "ok":
            checks.append(_check("spn", spn, "ok", "registered on %s" % account["name"], account=account["name"]))
            continue
        commands = [_setspn("-D", spn, holder["name"]) for holder in others]
        ldif = [_ldif_spn(holder["dn"], "delete", spn) for holder in others]
        held = len(others) < len(row["holders"])
        if status == "duplicate":
            detail = "held by %s: the KDC refuses tickets for a duplicate SPN" % holders
            fix = ("Remove %s from %s, keeping it on %s." if held else "Move %s from %s to %s.") % (
                spn, ", ".join(h["name"] for h in others), account["name"])
        else:
            detail = "not registered" if status == "missing" else "registered on %s, not on %s" % (
                holders, account["name"])
            fix = ("Register %s on %s." % (spn, account["name"]) if status == "missing" else
                   "Move %s from %s to %s." % (spn, holders, account["name"]))
        if not held:
            commands.append(_setspn("-S", spn, account["name"]))
            ldif.append(_ldif_spn(account["dn"], "add", spn))
        checks.append(_check("spn", spn, status, detail, fix=fix, commands=commands, ldif=ldif,
                             account=account["name"]))
    return checks


def stale_spn_checks(report):
    """One check per stale SPN spn_facts found on the instance's host (on
    the report of the host's first instance): an MSSQLSvc SPN naming the
    host that no instance of the inventory requires."""
    checks = []
    for row in report.get("stale_spns") or []:
        spn = row["spn"]
        holders = ", ".join(holder["name"] for holder in row["holders"])
        checks.append(_check(
            "spn", spn, "stale",
            "registered on %s, but no instance of the inventory uses it (an old port or a removed instance)"
            % holders,
            fix="Remove %s from %s (the SPN role does with spn_registration_remove_stale: true)." % (spn, holders),
            commands=[_setspn("-D", spn, holder["name"]) for holder in row["holders"]],
            ldif=[_ldif_spn(holder["dn"], "delete", spn) for holder in row["holders"]],
            account=holders))
    return checks


def spn_write_acl_check(report):
    account = report["service_account"]
    if report.get("can_register_own_spns") is None:
        return _check("spn_write_acl", account["name"], "skipped",
                      "not checked for this kind of account (%s)" % account.get("kind"), account=account["name"])
    if report["can_register_own_spns"]:
        return _check("spn_write_acl", account["name"], "ok", "the account may write its own SPNs",
                      account=account["name"])
    return _check(
        "spn_write_acl", account["name"], "acl_missing",
        "%s may not write its own servicePrincipalName: SQL Server cannot register its SPNs at start" % account["name"],
        fix="Grant SELF %s on %s." % (" and ".join(text for dummy, text in SPN_WRITE_RIGHTS), account["dn"]),
        commands=["dsacls %s /G %s" % (_ps_quote(account["dn"]), _ps_quote("SELF:" + right))
                  for right, dummy in SPN_WRITE_RIGHTS],
        ldif=["# %s: grant SELF the SPN write rights with the dsacls lines of the PowerShell script; in LDIF the "
              "whole nTSecurityDescriptor would have to be replaced.\n" % account["dn"]],
        account=account["name"])


def caller_checks(link, subject, callers):
    """The users among a linked server's callers the KDC never delegates
    (sensitive, Protected Users): [one check], or [] without callers.
    ``callers``: spn_facts' ``callers`` by input name (lower case)."""
    names = link.get("callers") or []
    if not names:
        return []
    checked = [callers.get(name.lower()) for name in names]
    if any(result is None for result in checked):
        return [_check("delegation", subject + ": callers", "skipped", "the callers were not checked")]
    blocked = {}
    for result in checked:
        for user in result["blocked"]:
            blocked.setdefault(user["name"], set()).update(user["reasons"])
    if not blocked:
        return [_check("delegation", subject + ": callers", "ok", "none of %s is sensitive or in Protected Users"
                       % ", ".join(result["name"] for result in checked))]
    said = {"sensitive": "marked sensitive", "protected_users": "in Protected Users"}
    users = "; ".join("%s (%s)" % (name, ", ".join(said[reason] for reason in sorted(reasons)))
                      for name, reasons in sorted(blocked.items(), key=lambda item: item[0].lower()))
    return [_check("delegation", subject + ": callers", "caller_not_delegable",
                   "the KDC never delegates these callers, so their linked-server queries log in as NT AUTHORITY\\"
                   "ANONYMOUS LOGON: %s" % users,
                   fix="If they must query through the linked server, clear 'Account is sensitive and cannot be "
                       "delegated' or take them out of Protected Users (a security decision: both exist to protect "
                       "privileged accounts); otherwise give them another way to the back end's data.",
                   commands=["Set-ADAccountControl -Identity %s -AccountNotDelegated $false" % _ps_quote(name)
                             for name, reasons in sorted(blocked.items()) if "sensitive" in reasons]
                   + ["Remove-ADGroupMember -Identity 'Protected Users' -Members %s -Confirm:$false" % _ps_quote(name)
                      for name, reasons in sorted(blocked.items()) if "protected_users" in reasons])]


def delegation_checks(links, reports_by_key, delegation, callers=None):
    """Per front-end instance, one check per linked server: the back end's
    account lists the front end's account in msDS-AllowedToActOnBehalfOfOtherIdentity.
    ``delegation`` is rbkcd_delegate's result in check mode (state present)."""
    targets = {}
    for target in (delegation or {}).get("targets") or []:
        targets[target["account"]["sid"]] = target
    checks = {}
    new_principals = {}
    for link in links:
        front = reports_by_key.get(instance_key_from_name(link["front"]))
        back = reports_by_key.get(instance_key_from_name(link["back"]))
        if front is None or back is None:
            continue
        front_account, back_account = front["service_account"], back["service_account"]
        subject = "%s -> %s" % (front["name"], back["name"])
        target = targets.get(back_account["sid"])
        front_state = front_account.get("state") or {}
        front_flags = front_state.get("flags") or []
        classic = _classic_delegation(front_state, back)
        if front_account["sid"] == back_account["sid"] and target is not None and \
                back_account["sid"] in {p["sid"] for p in target["principals_before"]}:
            entry = _check(
                "delegation", subject, "self_entry",
                "same account (%s) on both ends: no delegation needed, but the account lists itself in %s"
                % (front_account["name"], RBCD_ATTRIBUTE),
                fix="Remove %s from its own PrincipalsAllowedToDelegateToAccount (rbkcd_delegate with state=exact "
                    "and the principals it should keep)." % back_account["name"],
                commands=[_delegation_list_command(back_account, "| Where-Object { $_ -ne %s }"
                                                   % _ps_quote(back_account["dn"]))],
                account=back_account["name"])
        elif front_account["sid"] == back_account["sid"]:
            entry = _check("delegation", subject, "ok", "same account (%s) on both ends: no delegation needed"
                           % front_account["name"], account=back_account["name"])
        elif "not_delegated" in front_flags:
            entry = _check(
                "delegation", subject, "front_end_sensitive",
                "%s is marked 'Account is sensitive and cannot be delegated': the KDC refuses every delegation "
                "it asks for, so linked-server queries log in as NT AUTHORITY\\ANONYMOUS LOGON" % front_account["name"],
                fix="Clear 'Account is sensitive and cannot be delegated' on %s (a SQL Server service account must "
                    "delegate for linked servers), or run the front end under another account." % front_account["name"],
                commands=["Set-ADAccountControl -Identity %s -AccountNotDelegated $false"
                          % _ps_quote(front_account["dn"])], account=front_account["name"])
        elif classic:
            entry = _check("delegation", subject, "ok", "%s may delegate to %s by classic constrained delegation "
                           "(msDS-AllowedToDelegateTo%s)" % (
                               front_account["name"], classic,
                               ", with protocol transition" if "trusted_to_auth_for_delegation" in front_flags
                               else ""), account=back_account["name"])
        elif target is None:
            entry = _check("delegation", subject, "skipped", "delegation was not checked", account=back_account["name"])
        elif front_account["sid"] in {p["sid"] for p in target["principals_before"]}:
            allowed = "%s may delegate to %s" % (front_account["name"], back_account["name"])
            entry = _check("delegation", subject, "ok", allowed, account=back_account["name"])
        elif "trusted_for_delegation" in front_flags:
            entry = _check("delegation", subject, "ok", "%s may delegate to any service by unconstrained "
                           "delegation (a risk: see its delegation_risk check)" % front_account["name"],
                           account=back_account["name"])
        else:
            command = _delegation_list_command(back_account, "+ %s" % _ps_quote(front_account["dn"]))
            entry = _check(
                "delegation", subject, "delegation_missing",
                "%s may not delegate to %s: linked-server queries log in as NT AUTHORITY\\ANONYMOUS LOGON"
                % (front_account["name"], back_account["name"]),
                fix="Add %s to the PrincipalsAllowedToDelegateToAccount (%s) of %s, keeping the entries it has."
                    % (front_account["name"], RBCD_ATTRIBUTE, back_account["name"]),
                commands=[command], account=back_account["name"])
            new_principals.setdefault(back_account["sid"], (target, []))[1].append(entry)
        checks.setdefault(instance_key(front["host"], front["instance"]), []).append(entry)
        checks[instance_key(front["host"], front["instance"])].extend(caller_checks(link, subject, callers or {}))
    for target, entries in new_principals.values():
        ldif = _ldif_delegation(target)
        entries[0]["ldif"] = [ldif]
    return checks


def _delegation_list_command(account, change):
    """The PowerShell line that sets an account's
    PrincipalsAllowedToDelegateToAccount to its current entries with
    ``change`` applied (``+ 'DN'``, or a ``| Where-Object`` filter), so the
    entries it has are kept."""
    noun = _AD_CMDLET_NOUN.get(account.get("kind"), "ADObject")
    identity = _ps_quote(account["dn"])
    return ("Set-%s -Identity %s -PrincipalsAllowedToDelegateToAccount @(@((Get-%s -Identity %s -Properties "
            "PrincipalsAllowedToDelegateToAccount).PrincipalsAllowedToDelegateToAccount) %s)"
            % (noun, identity, noun, identity, change))


def _classic_delegation(front_state, back):
    """The back end's SPN (the one a linked server asks for: host.fqdn:port
    or host.fqdn:INSTANCE) the front end may delegate to by classic
    constrained delegation, when that SPN is ok on the back end's account
    (the KDC then grants S4U2Proxy to it), else None."""
    allowed = {spn.lower() for spn in front_state.get("allowed_to_delegate_to") or []}
    for row in back.get("spns") or []:
        if row.get("form") in ("fqdn_port", "fqdn_instance") and row.get("status") == "ok" \
                and row["spn"].lower() in allowed:
            return row["spn"]
    return None


def _ldif_delegation(target):
    """The whole planned value when the attribute is absent: rbkcd_delegate's
    modify with no value read, an add, which fails if another writer set it
    meanwhile; with a value present, an LDIF would need its exact bytes: the
    PowerShell line keeps its entries."""
    dn = target["account"]["dn"]
    if target["principals_before"] or target.get("non_standard_entries"):
        return ("# %s: %s already has a value; use the PowerShell line, which keeps its entries.\n"
                % (dn, RBCD_ATTRIBUTE))
    value = build_descriptor([delegation_ace(p["sid"]) for p in target["principals"]])
    return modify_record(dn, guarded_modification(None, value))


def account_checks(report, now):
    """Whether a service can run as the instance's account: one check per
    problem the account's attributes show (disabled, locked out, expired,
    password expired or to be changed), or one ok check."""
    account = report["service_account"]
    state = account.get("state")
    name = account["name"]
    if state is None:
        return []  # a report of spn_facts before 0.3.0
    flags = state.get("flags") or []
    identity = _ps_quote(account["dn"])
    checks = []
    if "disabled" in flags:
        checks.append(_check("account", name, "account_disabled", "%s is disabled: SQL Server cannot log on as it "
                             "and does not start" % name,
                             fix="Enable %s (if SQL Server should run as it), or give the instance its current "
                                 "service account in the inventory." % name,
                             commands=["Enable-ADAccount -Identity %s" % identity], account=name))
    if "locked_out" in flags:
        checks.append(_check("account", name, "account_locked", "%s is locked out: SQL Server cannot log on as it "
                             "until the lockout ends" % name,
                             fix="Unlock %s, and find what keeps trying an old password (a service or task on "
                                 "another host)." % name,
                             commands=["Unlock-ADAccount -Identity %s" % identity], account=name))
    if is_expired(state, now):
        checks.append(_check("account", name, "account_expired", "%s expired on %s: SQL Server cannot log on as it"
                             % (name, state["expires"]),
                             fix="Clear or extend the expiry date of %s: a service account should not expire." % name,
                             commands=["Clear-ADAccountExpiration -Identity %s" % identity], account=name))
    # Computers and (g)MSAs: the machine changes their passwords itself.
    if account.get("kind") == "user" and ("password_expired" in flags or state.get("must_change_password")):
        why = "must change its password at next logon" if state.get("must_change_password") else \
            "has an expired password"
        checks.append(_check("account", name, "password_expired", "%s %s: SQL Server cannot log on as it at its "
                             "next start" % (name, why),
                             fix="Set a new password on %s and give it to the SQL Server service (SQL Server "
                                 "Configuration Manager), or move the instance to a gMSA, whose password the "
                                 "domain changes by itself." % name,
                             commands=["Set-ADAccountPassword -Identity %s -Reset" % identity,
                                       "Set-ADUser -Identity %s -ChangePasswordAtLogon $false" % identity],
                             account=name))
    managed = account.get("managed_password") or {}
    if managed.get("may_retrieve") is False:
        host = managed["host_account"]
        checks.append(_check(
            "account", name, "gmsa_password_unreadable",
            "%s may not retrieve the managed password of %s: SQL Server on %s cannot start as it"
            % (host, name, report["host"]),
            fix="Allow %s to retrieve the password of %s (PrincipalsAllowedToRetrieveManagedPassword, keeping the "
                "principals it has), then restart the host or purge its Kerberos tickets." % (host, name),
            commands=["Set-ADServiceAccount -Identity %s -PrincipalsAllowedToRetrieveManagedPassword @(@((Get-"
                      "ADServiceAccount -Identity %s -Properties PrincipalsAllowedToRetrieveManagedPassword)."
                      "PrincipalsAllowedToRetrieveManagedPassword) + %s)"
                      % (identity, identity, _ps_quote(host.split("\\")[-1]))],
            account=name))
    return checks or [_check("account", name, "ok", "enabled, not locked out, not expired", account=name)]


def privilege_checks(report):
    """A user or gMSA SQL Server runs as, with the instance's SPNs, that is
    a member of a privileged group (spn_facts' privileged_groups): a
    warning naming the groups, or one ok check. Nothing for computer
    accounts and reports of spn_facts before 0.3.0 (privileged_groups absent
    or null)."""
    account = report["service_account"]
    groups = account.get("privileged_groups")
    name = account["name"]
    if groups is None:
        return []
    if not groups:
        return [_check("account_privilege", name, "ok", "in no privileged group (Domain Admins, Enterprise Admins, "
                       "Schema Admins, Administrators, Account Operators)", account=name)]
    memberships = account.get("privileged_memberships") or [
        dict(group=group, dn=group.rpartition("\\")[2], via="member") for group in groups]
    shown = ", ".join("%s%s" % (m["group"], _VIA_SHOWN.get(m["via"], "")) for m in memberships)
    identity = _ps_quote(account["dn"])
    if account.get("kind") in ("gmsa", "msa"):
        detail = ("%s is a member of %s: its password is machine-made and cannot be cracked, but whoever controls a "
                  "host allowed to read it, or SQL Server there, acts with these groups' rights" % (name, shown))
    else:
        detail = ("%s is a member of %s: anyone in the domain can request a service ticket for its SPNs and crack "
                  "its password offline (kerberoasting), then act with these groups' rights" % (name, shown))
    commands = []
    for membership in memberships:
        group = _ps_quote(membership["dn"])
        if membership["via"] == "primary_group":
            # A primary group cannot be left: give the account its default one
            # back, which the DC allows when it is a member of it (it was made
            # one when its primary group changed), and which turns the old one
            # into an ordinary membership.
            commands.append("Set-ADObject -Identity %s -Replace @{primaryGroupID=%d}"
                            % (identity, _DEFAULT_PRIMARY_RID.get(account.get("kind"), 513)))
        if membership["via"] in ("member", "primary_group"):
            commands.append("Remove-ADGroupMember -Identity %s -Members %s -Confirm:$false" % (group, identity))
    fix = "Run SQL Server as a dedicated account that is in no privileged group, or as a gMSA, which needs none."
    direct = [m["group"] for m in memberships if m["via"] != "nested"]
    nested = [m["group"] for m in memberships if m["via"] == "nested"]
    if direct:
        fix += " Or remove %s from %s." % (name, ", ".join(direct))
    primary = [m["group"] for m in memberships if m["via"] == "primary_group"]
    if primary:
        fix += (" %s is its primary group, which it cannot leave: set its primary group back to %s first."
                % (primary[0], "Domain Computers" if account.get("kind") in ("gmsa", "msa") else "Domain Users"))
    if nested:
        fix += (" Its membership of %s comes through other groups and goes when it leaves them "
                "(Get-ADPrincipalGroupMembership lists its groups)." % ", ".join(nested))
    return [_check("account_privilege", name, "privileged_account", detail, fix=fix, commands=commands, account=name)]


# -- DNS: names as clients resolve them (dns_facts) ------------------------------

def dns_checks_by_instance(dns):
    """{instance_key: [checks]}: dns_facts' names, each checked with the first
    instance that uses it (a host's or listener's name is checked once,
    however many instances share it)."""
    found = {}
    for row in (dns or {}).get("names") or []:
        if row.get("instances"):
            key = instance_key_from_name(row["instances"][0])
            found.setdefault(key, []).extend(dns_checks(row, (dns or {}).get("domain")))
    return found


def dns_checks(row, domain=None):
    """The dns checks of one name of dns_facts: one per status, or one ok."""
    name = row["name"]
    if not row.get("statuses"):
        return [_check("dns", name, "ok", "%s %s" % (_record_words(row), _addresses_shown(row)))]
    return [_dns_check(row, status, domain) for status in row["statuses"]]


def _record_words(row):
    return "CNAME of %s," % row["canonical"] if row.get("record") == "cname" else "address record,"


def _addresses_shown(row):
    shown = []
    for item in row.get("addresses") or []:
        ptr = item.get("ptr")
        shown.append("%s%s" % (item["address"], " (PTR %s)" % ", ".join(ptr) if ptr else ""))
    return ", ".join(shown)


def _dns_zone(name, domain):
    """(zone, relative name) an AD DNS admin adds a forward record in: the
    domain's zone when the name is under it, else the name's parent."""
    folded, zone = name.rstrip(".").lower(), (domain or "").lower()
    if zone and folded.endswith("." + zone):
        return zone, folded[:-len(zone) - 1]
    label, _dot, parent = folded.partition(".")
    return parent, label


def _dns_check(row, status, domain):
    name, kind = row["name"], status["status"]
    if kind == "unresolved":
        zone, relative = _dns_zone(name, domain)
        chain = " -> ".join([name] + status.get("chain", []))
        detail = ("no address: %s" % ("the name does not exist (NXDOMAIN)" if status.get("nxdomain") else
                                      "the DNS server answered %s" % row.get("rcode") if row.get("rcode") not in
                                      (None, "NOERROR") else "no A or AAAA record"))
        if status.get("chain"):
            detail += "; CNAME chain %s" % chain
        return _check("dns", name, kind, detail, fix="Add the address record of %s (and its PTR) in the zone %s."
                      % (name, zone), commands=["# Fill in the address of %s:" % name,
                                                "# Add-DnsServerResourceRecordA -ZoneName %s -Name %s -IPv4Address "
                                                "ADDRESS -CreatePtr" % (_ps_quote(zone), _ps_quote(relative))])
    if kind == "alias_cname":
        return _check("dns", name, kind, "CNAME of %s: clients ask for its SPNs, none for the alias"
                      % status["canonical"], fix="None needed.")
    if kind == "alias_address":
        return _check("dns", name, kind, "address record of its own (%s): clients ask for the alias's own SPNs, "
                      "required on the instance's account (SPN findings)" % ", ".join(status["addresses"]),
                      fix="Register the alias's SPNs (the SPN findings), or make %s a CNAME of %s." % (
                          name, (row.get("leads_to") or ["the host"])[0]))
    if kind == "several_addresses":
        return _check("dns", name, kind, "addresses %s" % _addresses_shown(row),
                      fix="Clients connect with MultiSubnetFailover=True.")
    if kind == "ptr_mismatch":
        details, commands = [], []
        for item in status["addresses"]:
            details.append("%s's PTR %s" % (item["address"], "names %s" % ", ".join(item["names"]) if item["names"]
                                            else "is missing"))
            commands.extend(_ptr_commands(item, status["canonical"]))
        return _check("dns", name, kind, "%s, not %s" % ("; ".join(details), status["canonical"]),
                      fix="Make the PTR record of each address name %s only." % status["canonical"], commands=commands)
    if kind == "host_name_mismatch":
        return _check("dns", name, kind, "the computer account %s has dNSHostName %s" % (
            status["computer"], status["dns_host_name"]),
            fix="Use %s in the inventory, or set the host's primary DNS suffix so that it is %s." % (
                status["dns_host_name"], name))
    if kind == "short_name_mismatch":
        return _check("dns", name, kind, "%s resolves to %s, %s to %s" % (
            status["short_name"], ", ".join(status["short_addresses"]) or "nothing", name,
            ", ".join(status["addresses"])),
            fix="Correct the record of %s, or have clients use %s." % (status["short_name"], name))
    # name_elsewhere
    commands = []
    if row.get("role") == "alias" and row.get("record") == "cname" and row.get("leads_to"):
        zone, relative = _dns_zone(name, domain)
        commands = ["Remove-DnsServerResourceRecord -ZoneName %s -Name %s -RRType CName -Force" % (
            _ps_quote(zone), _ps_quote(relative)),
            "Add-DnsServerResourceRecordCName -ZoneName %s -Name %s -HostNameAlias %s" % (
                _ps_quote(zone), _ps_quote(relative), _ps_quote(row["leads_to"][0] + "."))]
    return _check("dns", name, kind, status["reason"],
                  fix=("Point %s at %s." % (name, row["leads_to"][0]) if row.get("leads_to") else
                       "Use %s in the inventory, or give %s an address record of its own." % (
                           status["canonical"], name)), commands=commands)


def _ptr_commands(item, canonical):
    """PowerShell that makes an address's PTR name ``canonical`` only; with
    no reverse zone for it, the /24 (IPv4) zone is created first."""
    zone = item.get("zone")
    commands = []
    if not zone:
        if ":" in item["address"]:
            return ["# No reverse zone holds %s: create one for its prefix, then add its PTR to %s." % (
                item["address"], canonical)]
        octets = item["address"].split(".")
        zone = "%s.%s.%s.in-addr.arpa" % (octets[2], octets[1], octets[0])
        commands.append("Add-DnsServerPrimaryZone -NetworkId %s -ReplicationScope 'Domain'" % _ps_quote(
            "%s.%s.%s.0/24" % tuple(octets[:3])))
    pointer, folded_zone = item["pointer"].lower(), zone.lower()
    relative = pointer[:-len(folded_zone) - 1] if pointer.endswith("." + folded_zone) else pointer
    for other in item.get("names") or []:
        commands.append("Remove-DnsServerResourceRecord -ZoneName %s -Name %s -RRType Ptr -RecordData %s -Force" % (
            _ps_quote(zone), _ps_quote(relative), _ps_quote(other + ".")))
    commands.append("Add-DnsServerResourceRecordPtr -ZoneName %s -Name %s -PtrDomainName %s" % (
        _ps_quote(zone), _ps_quote(relative), _ps_quote(canonical + ".")))
    return commands


# -- exposure: who else may write the accounts and hosts ------------------------------

def exposure_checks(report):
    """The service account's writers, and on the first instance of each host
    its computer object's (unless the account is that computer)."""
    account = report["service_account"]
    checks = []
    if "writers" in account:  # absent: a report from before the exposure audit
        checks.append(_writers_check("writable_by_others", account["name"], account["dn"], account["writers"]))
    host = report.get("host_computer")
    if host:
        if host["dn"].lower() != (account.get("dn") or "").lower():
            checks.append(_writers_check("host_writable_by_others", host["name"], host["dn"], host["writers"]))
        if host.get("creator"):
            checks.append(_check("exposure", host["name"], "creator_recorded", "created by %s (ms-DS-CreatorSID)"
                                 % host["creator"]["name"], fix="Check who owns and may write %s (EXP002)."
                                 % host["name"]))
    return checks


def _writers_shown(writer):
    if writer["kind"] != "group" or writer.get("members") is None:
        return writer["name"]
    if not writer["member_count"]:
        return "%s (no members now)" % writer["name"]
    more = writer["member_count"] - len(writer["members"])
    return "%s (%s%s)" % (writer["name"], ", ".join(writer["members"]), " and %d more" % more if more > 0 else "")


def _writers_check(status, name, dn, writers):
    if writers is None:
        return _check("exposure", name, "skipped", "its owner and DACL were not read (an object of another domain, "
                      "or not readable by the account bound)")
    if not writers:
        return _check("exposure", name, "ok", "only tier 0 and the account itself may write it")
    details, commands = [], []
    for writer in writers:
        details.append("%s may write %s (%s)" % (_writers_shown(writer), ", ".join(writer["what"]),
                                                 ", ".join(writer["via"])))
        if "ACE" in writer["via"]:
            commands.append("# dsacls /R removes every explicit ACE of %s on the object: check what else it "
                            "grants there first (dsacls %s)." % (writer["name"], _ps_quote(dn)))
            commands.append("dsacls %s /R %s" % (_ps_quote(dn), _ps_quote(writer["name"])))
        if "inherited ACE" in writer["via"]:
            commands.append("# %s's right on %s is inherited: remove it where it is set (a parent OU)."
                            % (writer["name"], dn))
        if "owner" in writer["via"]:
            commands.append("# Make Domain Admins the owner of %s (it is %s)." % (dn, writer["name"]))
    return _check("exposure", name, status, "; ".join(details),
                  fix="Remove the rights of %s on %s." % (", ".join(w["name"] for w in writers), name),
                  commands=commands)


def domain_exposure_checks(domain):
    """The domain's settings that make an RBKCD takeover easy, once per run."""
    domain = domain or {}
    name = domain.get("name") or "the domain"
    checks = []
    if domain.get("self_may_write_rbkcd") is not None:
        checks.append(_check("exposure", name, "self_rbkcd" if domain["self_may_write_rbkcd"] else "ok",
                             "an ACE at the domain root lets SELF write msDS-AllowedToActOnBehalfOfOtherIdentity"
                             if domain["self_may_write_rbkcd"] else "no account may set its own RBKCD",
                             fix="Accept it knowingly, or remove that SELF ACE at the domain root."))
    quota = domain.get("machine_account_quota")
    if quota is not None:
        checks.append(_check("exposure", name, "machine_account_quota" if quota > 0 else "ok",
                             "ms-DS-MachineAccountQuota is %d" % quota,
                             fix="Set ms-DS-MachineAccountQuota of %s to 0." % name,
                             commands=["Set-ADDomain -Identity %s -Replace @{'ms-DS-MachineAccountQuota'=0}"
                                       % _ps_quote(name)]))
    return checks


def kdc_checks(report, probe):
    """The KDC's verdict for the instance's SPNs, from kerberos_probe's
    result (``probe``), or nothing when the probe did not run."""
    if not probe:
        return []
    rows = {row["spn"].lower(): row for row in probe.get("tickets") or []}
    checks = []
    for spn_row in report["spns"]:
        row = rows.get(spn_row["spn"].lower())
        if row is None:
            continue
        spn = spn_row["spn"]
        if row.get("rc4"):
            detail = ("the KDC issued an %s ticket for %s" % (row["enctype"], spn) if row["issued"] else
                      "the KDC issues no AES ticket for %s (%s): its holder allows RC4 only" % (
                          spn, (row.get("error") or {}).get("kdc")))
            checks.append(_check("kdc", spn, "rc4_ticket", detail, fix="Set the encryption types of %s to AES, then "
                                 "probe again." % ", ".join(row["holders"])))
        elif not row["issued"]:
            error = row.get("error") or {}
            checks.append(_check("kdc", spn, "ticket_refused", "the KDC refused a ticket for %s: %s (%s)" % (
                spn, error.get("words") or "refused", error.get("kdc") or error.get("name")),
                fix="Register %s on %s only, then probe again." % (spn, report["service_account"]["name"])))
        elif row.get("key_version_match") is False:
            checks.append(_check("kdc", spn, "key_version_mismatch", "ticket key version %s, %s's msDS-KeyVersionNumber"
                                 " %s" % (row["ticket_kvno"], ", ".join(row["holders"]), row["directory_kvno"]),
                                 fix="Let replication converge and probe again."))
        else:
            checks.append(_check("kdc", spn, "ok", "issued, %s, key version %s%s" % (
                row["enctype"], row["ticket_kvno"], ", OK-AS-DELEGATE" if row.get("ok_as_delegate") else "")))
    return checks


def kdc_clock_check(probe):
    """The controller's clock against the DC's, from kerberos_probe's result."""
    clock = (probe or {}).get("clock") or {}
    if clock.get("ok") is None:
        return []
    subject = "controller clock"
    if clock["ok"]:
        return [_check("kdc_clock", subject, "ok", "%+.1f s from the DC's" % clock["skew_seconds"])]
    return [_check("kdc_clock", subject, "clock_skew", "the controller's clock (%s) is %+.0f s from the DC's (%s), "
                   "beyond the tolerated %d s" % (clock["controller"], clock["skew_seconds"], clock["dc"],
                                                  clock["max_skew"]),
                   fix="Synchronise the controller with the domain's time source.")]


_ENCRYPTION_TYPE_NAMES = {"aes": "'AES128','AES256'", "aes_rc4": "'AES128','AES256','RC4'"}


def encryption_checks(report, target="aes"):
    """The encryption types the KDC uses for the instance's account
    (state.encryption_types, _encryption_types.py) against ``target``
    (sql_kerberos_encryption_types): RC4 only, DES, AES keys possibly
    missing, RC4 still allowed; a computer account's only reported (its
    host's policy sets it)."""
    account = report["service_account"]
    name, kind = account["name"], account.get("kind")
    encryption = (account.get("state") or {}).get("encryption_types")
    if encryption is None:
        return []
    shown = ", ".join(encryption["names"]) + ("" if encryption["value"] is not None else
                                              " (msDS-SupportedEncryptionTypes not set)")
    if kind not in ENCRYPTION_WRITABLE_KINDS:
        if encryption["rc4_only"] or encryption["des"]:
            return [_check("encryption", name, "computer_weak_encryption",
                           "%s allows %s; Windows sets a computer account's encryption types from the host's policy"
                           % (name, shown),
                           fix="Set 'Network security: Configure encryption types allowed for Kerberos' to AES for "
                               "%s (Group Policy)." % report["host"], account=name)]
        return [_check("encryption", name, "ok", shown, account=name)]
    identity = _ps_quote(account["dn"])
    setter = "Set-ADServiceAccount" if kind in ("gmsa", "msa") else "Set-ADUser"
    set_command = "%s -Identity %s -KerberosEncryptionType %s" % (setter, identity, _ENCRYPTION_TYPE_NAMES[target])
    # What kerberos_encryption_types writes, and its own modify as LDIF: empty when the attribute needs nothing.
    settable = needs_setting(encryption["value"], target)
    ldif = [modify_record(account["dn"], encryption_types_modification(
        encryption["value"], planned_value(encryption["value"], target)))] if settable else []
    fix_set = "Set the encryption types of %s to %s (the site playbook does)." % (
        name, " and ".join(etype_names(ENCRYPTION_TARGETS[target])))
    checks = []
    if encryption["des"]:
        by_bits = any(etype.startswith("des-") for etype in encryption["names"])
        if by_bits:
            checks.append(_check("encryption", name, "des_enabled", "%s allows DES: %s" % (name, shown),
                                 fix=fix_set, commands=[set_command], ldif=ldif, account=name))
        else:
            # USE_DES_KEY_ONLY is a userAccountControl flag, which no module of the collection sets or clears.
            checks.append(_check("encryption", name, "des_enabled", "%s: 'Use only Kerberos DES encryption types' "
                                 "is set (userAccountControl)" % name,
                                 fix="Clear 'Use only Kerberos DES encryption types' on %s (a person: the collection "
                                     "does not write this flag)." % name,
                                 commands=["Set-ADAccountControl -Identity %s -UseDESKeyOnly $false" % identity],
                                 account=name))
    if encryption["rc4_only"]:
        checks.append(_check("encryption", name, "rc4_only", "%s gets RC4 service tickets: %s" % (name, shown),
                             fix=fix_set, commands=[set_command], ldif=ldif, account=name))
    elif settable and encryption["rc4"] and target == "aes":
        checks.append(_check("encryption", name, "rc4_allowed", "%s allows RC4 beside AES: %s" % (name, shown),
                             fix=fix_set, commands=[set_command], ldif=ldif, account=name))
    if encryption.get("aes_keys_possibly_missing"):
        checks.append(_check(
            "encryption", name, "aes_keys_possibly_missing",
            "%s's password was last set %s, before the domain could make AES keys (a heuristic: %s, when its "
            "Read-only Domain Controllers group was created)" % (
                name, (account.get("state") or {}).get("password_last_set") or "?",
                (report.get("domain") or {}).get("aes_keys_since") or "?"),
            fix="Reset the password of %s and give SQL Server the new one, then set its encryption types to AES "
                "(the site playbook leaves an AES-only setting for it until then)." % name,
            commands=["Set-ADAccountPassword -Identity %s -Reset" % identity], account=name))
    return checks or [_check("encryption", name, "ok", shown, account=name)]


def delegation_risk_checks(report):
    """Unconstrained delegation and protocol transition on the instance's
    account (for LocalSystem, NETWORK SERVICE and virtual accounts, the
    host's computer account); domain controllers are left out."""
    account = report["service_account"]
    state = account.get("state")
    name = account["name"]
    if state is None:
        return []
    flags = state.get("flags") or []
    if "domain_controller" in flags:
        return [_check("delegation_risk", name, "skipped", "a domain controller: its delegation settings are the "
                       "domain's own", account=name)]
    identity = _ps_quote(account["dn"])
    checks = []
    if "trusted_for_delegation" in flags:
        checks.append(_check(
            "delegation_risk", name, "unconstrained_delegation",
            "%s is trusted for unconstrained delegation: every client's ticket to it carries the client's TGT, so "
            "whoever controls the instance can act as any of its users anywhere in the forest" % name,
            fix="Let the instance's linked servers delegate by resource-based constrained delegation (the site "
                "playbook sets it), then clear 'Trust this account for delegation to any service' on %s." % name,
            commands=["Set-ADAccountControl -Identity %s -TrustedForDelegation $false" % identity], account=name))
    if "trusted_to_auth_for_delegation" in flags:
        checks.append(_check(
            "delegation_risk", name, "protocol_transition",
            "%s may use protocol transition (TRUSTED_TO_AUTH_FOR_DELEGATION): it can obtain tickets as any user, "
            "without their password, to every service it may delegate to" % name,
            fix="Clear 'Use any authentication protocol' on %s: linked servers delegate by resource-based "
                "constrained delegation, which needs no protocol transition." % name,
            commands=["Set-ADAccountControl -Identity %s -TrustedToAuthForDelegation $false" % identity],
            account=name))
    return checks or [_check("delegation_risk", name, "ok", "no unconstrained delegation, no protocol transition",
                             account=name)]


def port_checks(report, port):
    """The static-port and TCP/IP checks of an instance. ``port`` is the
    host's port check: dict(managed, platform, result) with sql_static_port's
    check-mode result, or None when it was not run."""
    name, wanted = report["name"], report["port"]
    checks = []
    live = None
    if port and port.get("managed") and port.get("result"):
        wanted_key = instance_key(report["host"], report["instance"])
        # SQL Server on Linux has one instance per host, whatever its name.
        live = next((item for item in port["result"].get("instances") or []
                     if instance_key(report["host"], item.get("instance")) == wanted_key
                     or port.get("platform") == "linux"), None)
    if not report.get("tcp_enabled", True):
        checks.append(_check("tcp_enabled", name, "tcp_disabled", "TCP/IP is disabled (inventory): clients fall back "
                             "to named pipes, and no port SPN applies",
                             fix="Enable TCP/IP for %s in SQL Server Configuration Manager (Protocols > TCP/IP) if "
                                 "clients connect over TCP, then set tcp_enabled: true and a static port in the "
                                 "inventory." % name))
    elif wanted == DYNAMIC_PORT:
        checks.append(_check("static_port", name, "dynamic_port", "the inventory gives no static port: clients find "
                             "the instance through SQL Browser and a port SPN cannot be registered",
                             fix="Choose a static TCP port for %s, set it as port: in the inventory, and run the site "
                                 "playbook (it pins the port)." % name))
    elif not port or not port.get("managed"):
        checks.append(_check("static_port", name, "skipped", "ports are not checked on this host "
                             "(sql_kerberos_manage_ports: false)"))
    elif live is None:
        checks.append(_check("static_port", name, "skipped", "not checked: the host's port check failed or did not "
                             "run (see the run's output)"))
    elif live.get("changed") or live.get("restart_required"):
        changes = live.get("changes") or []
        moved = "; ".join("%s %s -> %s" % (c.get("option") or c.get("value"), _shown(c.get("before")),
                                           _shown(c.get("after"))) for c in changes)
        status = "port_not_static" if changes else "restart_required"
        detail = ("not pinned to %s (%s)" % (wanted, moved) if changes else
                  "pinned to %s, but the running instance does not listen on it yet" % wanted)
        checks.append(_check("static_port", name, status, detail,
                             fix="Pin TCP port %s on %s and restart the instance (the site playbook pins it; it "
                                 "restarts only with sql_static_port_allow_restart: true)." % (wanted, name),
                             commands=_port_commands(port.get("platform"), live, wanted)))
    else:
        checks.append(_check("static_port", name, "ok", "pinned to %s" % wanted))
    return checks


def _shown(value):
    return "(none)" if value in (None, "") else str(value)


def _port_commands(platform, live, wanted):
    if platform == "linux":
        return ["sudo /opt/mssql/bin/mssql-conf set network.tcpport %s" % wanted,
                "sudo systemctl restart mssql-server"]
    commands = []
    for change in live.get("changes") or []:
        key = change["key"].replace("HKLM\\", "HKLM:\\", 1)
        commands.append("Set-ItemProperty -Path %s -Name %s -Value %s" % (
            _ps_quote(key), _ps_quote(change["value"]), _ps_quote(str(change.get("after") or ""))))
    if live.get("service"):
        commands.append("Restart-Service -Name %s -Force" % _ps_quote(live["service"]))
    return commands


# -- the report's files -----------------------------------------------------------

# The file of each format, in the report folder.
REPORT_FILE_NAMES = dict(json="drift-report.json", junit="drift-report.xml", html="drift-report.html",
                         powershell="fix-ad.ps1", ldif="fix-ad.ldif")
# The action drift_report_files (plugins/action/): its small options, validated
# by this spec; the checks' results (audit, delegation, probe, dns), each a
# result or the name of the variable holding it, are checked by hand, so
# that megabytes of them are not copied to be validated.
DRIFT_REPORT_FILES_OPTIONS = dict(
    links=dict(type="list", elements="dict", default=[]),
    hosts=dict(type="list", elements="str", default=[]),
    mode=dict(type="str", default="report"),
    waivers=dict(type="list", elements="raw", default=[]),
    severity_overrides=dict(type="dict", default={}),
    fail_on=dict(type="str", default="error", choices=list(SEVERITIES)),
    encryption_types=dict(type="str", default="aes", choices=list(ENCRYPTION_TARGETS)),
    path=dict(type="path", required=True),
    formats=dict(type="list", elements="str", default=["json", "junit", "html"], choices=list(REPORT_FILE_NAMES)),
    fact_name=dict(type="str"),
)
DRIFT_REPORT_FILES_RESULTS = dict(audit=dict(type="raw", required=True), delegation=dict(type="raw"),
                                  probe=dict(type="raw"), dns=dict(type="raw"))


# -- the report ----------------------------------------------------------------

def build_report(audit, links, delegation, ports, mode="report", generated=None, waivers=None,
                 severity_overrides=None, fail_on="error", today=None, encryption_types="aes", probe=None, dns=None):
    """The drift report.

    ``audit``: spn_facts' result; ``links``: the inventory's linked servers
    (dict(front, back)); ``delegation``: rbkcd_delegate's check-mode result
    for them, or None; ``ports``: per host FQDN (lower case), the port check
    (see port_checks). ``waivers`` and ``severity_overrides`` are the
    inventory's accepted risks (_catalogue.py), ``fail_on`` the lowest
    severity that fails the run, ``today`` the date waivers expire against,
    ``encryption_types`` what the accounts' should be (aes or aes_rc4),
    ``probe`` kerberos_probe's result or None, ``dns`` dns_facts' or None.
    Raises CatalogueError for waivers or overrides that cannot apply."""
    if fail_on not in SEVERITIES:
        raise CatalogueError("fail_on must be one of %s, got %r" % (", ".join(SEVERITIES), fail_on))
    if encryption_types not in ENCRYPTION_TARGETS:
        raise CatalogueError("encryption_types must be one of %s, got %r" % (", ".join(ENCRYPTION_TARGETS),
                                                                             encryption_types))
    waiver_list = parse_waivers(waivers)
    overrides = parse_severity_overrides(severity_overrides)
    now = (datetime.datetime.combine(today, datetime.time.min, datetime.timezone.utc) if today
           else datetime.datetime.now(datetime.timezone.utc))
    reports = audit.get("instances") or []
    by_key = {instance_key(r["host"], r["instance"]): r for r in reports}
    delegations = delegation_checks(links or [], by_key, delegation,
                                    {c["input"].lower(): c for c in audit.get("callers") or []})
    hosts = {}
    # The controller's clock and the domain's settings concern the whole run: their checks sit with the first instance.
    clock = kdc_clock_check(probe) + domain_exposure_checks(audit.get("domain"))
    names = dns_checks_by_instance(dns)
    for report in reports:
        key = instance_key(report["host"], report["instance"])
        checks, clock = clock + account_checks(report, now), []
        checks.extend(privilege_checks(report))
        checks.extend(names.get(key, []))
        checks.extend(port_checks(report, (ports or {}).get(report["host"].lower())))
        checks.append(spn_write_acl_check(report))
        checks.extend(spn_checks(report))
        checks.extend(kdc_checks(report, probe))
        checks.extend(stale_spn_checks(report))
        checks.extend(encryption_checks(dict(report, domain=audit.get("domain")), encryption_types))
        checks.extend(delegations.get(key, []))
        checks.extend(delegation_risk_checks(report))
        checks.extend(exposure_checks(report))
        checks.sort(key=lambda c: CHECK_ORDER.index(c["check"]))
        entry = dict(name=report["name"], instance=report["instance"], port=report["port"],
                     service_account=report["service_account"]["name"], checks=checks)
        hosts.setdefault(report["host"].lower(), dict(host=report["host"], instances=[]))["instances"].append(entry)
    host_list = [hosts[name] for name in sorted(hosts)]
    every = [check for host in host_list for instance in host["instances"] for check in instance["checks"]]
    active, expired, unmatched = classify(every, waiver_list, overrides, today or _today())
    for host in host_list:
        for instance in host["instances"]:
            instance["result"] = "drift" if any(c["result"] == "drift" for c in instance["checks"]) else "ok"
        host["result"] = "drift" if any(i["result"] == "drift" for i in host["instances"]) else "ok"
    summary = dict(hosts=len(host_list), instances=len(reports), checks=len(every),
                   **{result: sum(c["result"] == result for c in every) for result in RESULTS})
    summary["instances_with_drift"] = sum(i["result"] == "drift" for h in host_list for i in h["instances"])
    failing = [c for c in every if c["result"] == "drift" and at_least(c.get("severity", "error"), fail_on)]
    verdict = dict(fail=bool(failing or expired), fail_on=fail_on, failing=len(failing),
                   below_fail_on=summary["drift"] - len(failing), waived=summary["waived"],
                   active_waivers=[w.summary() for w in active], expired_waivers=[w.summary() for w in expired],
                   unmatched_waivers=[w.summary() for w in unmatched])
    return dict(drift=summary["drift"] > 0, mode=mode, generated=generated, summary=summary, verdict=verdict,
                hosts=host_list)


def _today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def problems(report):
    """(host, instance, check) for every check with drift, in report order."""
    return [(host, instance, check) for host in report["hosts"] for instance in host["instances"]
            for check in instance["checks"] if check["result"] == "drift"]


def problems_in_fix_order(report):
    """The problems sorted by what must be fixed first (CHECK_ORDER), in report order within each kind."""
    return sorted(problems(report), key=lambda item: CHECK_ORDER.index(item[2]["check"]))


def problem_lines(report):
    """One readable line per problem, for the play's output."""
    return ["%s: %s %s: %s" % (instance["name"], check["check"], check["subject"], check["detail"])
            for dummy, instance, check in problems(report)]


def verdict_lines(report, report_dir=None):
    """What a person reads at the end of a run: the verdict, then per host
    one line per finding (ID, severity, subject, what it breaks, the fix),
    the waivers that expired or match nothing, and where the reports are."""
    verdict = report.get("verdict") or {}
    fail_on = verdict.get("fail_on", "error")
    counts = "%d finding(s) at or above %s" % (verdict.get("failing", 0), fail_on)
    if verdict.get("below_fail_on"):
        counts += ", %d below it" % verdict["below_fail_on"]
    if verdict.get("waived"):
        counts += ", %d waived" % verdict["waived"]
    lines = ["Kerberos %s: %s." % ("drift FAILS the run" if verdict.get("fail") else
                                   "drift found" if report.get("drift") else "no drift", counts)]
    by_host = {}
    for host, instance, check in problems(report) + [
            (h, i, c) for h in report["hosts"] for i in h["instances"] for c in i["checks"] if c["result"] == "waived"]:
        by_host.setdefault(host["host"], []).append((instance, check))
    for host in sorted(by_host):
        lines.append(host)
        for instance, check in by_host[host]:
            if check["result"] == "waived":
                waiver = check["waiver"]
                lines.append("  %s waived   %s: until %s, %s" % (check.get("id", "?"), check["subject"],
                                                                 waiver["expires"], waiver["reason"]))
                continue
            lines.append("  %s %-7s %s (%s): %s, breaks %s. Fix: %s" % (
                check.get("id", "?"), check.get("severity", "?"), check["subject"], instance["name"],
                check.get("title", check["status"]), check.get("breaks", "?"), check.get("fix") or ""))
    for waiver in verdict.get("expired_waivers") or []:
        lines.append("Expired waiver (fails the run): %s %s, expired %s (%s)" % (
            waiver["id"], waiver["subject"], waiver["expires"], waiver["reason"]))
    for waiver in verdict.get("unmatched_waivers") or []:
        lines.append("Waiver that matches no finding: %s %s (remove it, or fix its subject)" % (
            waiver["id"], waiver["subject"]))
    if report_dir:
        lines.append("Reports: %s/drift-report.{json,xml,html}" % report_dir.rstrip("/"))
    return lines


# -- renderings ----------------------------------------------------------------

def to_json(report):
    return json.dumps(report, indent=2) + "\n"


def to_junit(report):
    """JUnit XML: a test suite per host, a test case per instance and check;
    drift is a failure, an unchecked item is skipped."""
    suites = ElementTree.Element("testsuites", name="sqlauth.kerberos drift report")
    totals = dict(tests=0, failures=0, skipped=0)
    for host in report["hosts"]:
        cases = [(instance, check) for instance in host["instances"] for check in instance["checks"]]
        counts = dict(tests=len(cases), failures=sum(c["result"] == "drift" for dummy, c in cases),
                      skipped=sum(c["result"] in ("skipped", "waived") for dummy, c in cases))
        suite = ElementTree.SubElement(suites, "testsuite", name=host["host"], errors="0", time="0",
                                       **{k: str(v) for k, v in counts.items()})
        if report.get("generated"):
            suite.set("timestamp", report["generated"])
        for instance, check in cases:
            case = ElementTree.SubElement(suite, "testcase", classname=instance["name"],
                                          name="%s %s" % (check["check"], check["subject"]), time="0")
            if check["result"] == "drift":
                failure = ElementTree.SubElement(case, "failure", type=check["status"], message="%s: %s (%s, %s%s)" % (
                    check["status"], check["detail"], check.get("id", "-"), check.get("severity", "error"),
                    "; its waiver expired on %s" % check["waiver_expired"]["expires"] if check.get("waiver_expired")
                    else ""))
                failure.text = "\n".join([check["fix"] or ""] + check["commands"])
            elif check["result"] == "skipped":
                ElementTree.SubElement(case, "skipped", message=check["detail"])
            elif check["result"] == "waived":
                waiver = check["waiver"]
                ElementTree.SubElement(case, "skipped", message="waived (%s) until %s: %s%s" % (
                    check["id"], waiver["expires"], waiver["reason"],
                    "".join("; %s: %s" % (key.replace("_", " "), waiver[key]) for key in ("approved_by", "ticket")
                            if waiver.get(key))))
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("errors", "0")
    suites.set("time", "0")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def to_powershell(report):
    """The AD changes that fix the report's problems, as a PowerShell script
    for an AD administrator (setspn and dsacls ship with the AD DS tools;
    Set-AD* with the ActiveDirectory module). Port fixes run on the SQL
    hosts and stay in the report."""
    lines = ["# AD changes that fix the Kerberos drift of %d SQL Server instance(s)." %
             report["summary"]["instances_with_drift"],
             "# Generated by sqlauth.kerberos%s; nothing has been written. Review, then run as an" %
             (" at %s" % report["generated"] if report.get("generated") else ""),
             "# AD administrator: setspn and dsacls come with the AD DS tools, Set-AD* with the",
             "# ActiveDirectory module, the DNS records' cmdlets with the DnsServer module (RSAT DNS).",
             "#Requires -Modules ActiveDirectory", "$ErrorActionPreference = 'Stop'", ""]
    for dummy, instance, check in problems_in_fix_order(report):
        if check["check"] in ("static_port", "tcp_enabled") or not check["commands"]:
            continue
        lines.append("# %s: %s %s (%s)" % (instance["name"], check["check"], check["subject"], check["status"]))
        lines.extend(check["commands"])
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def to_ldif(report):
    """The same AD changes as LDIF (ldapmodify): single values added and
    deleted, never a whole attribute replaced, each record made from the
    modify request the module sends; what LDIF leaves to the PowerShell
    script (ACLs, a delegation value already present) is said in comments."""
    parts = ["# AD changes that fix the Kerberos drift (sqlauth.kerberos); nothing has been written.\n"
             "# Apply with ldapmodify over LDAPS as a domain administrator, in this order.\n"]
    written = set()
    for dummy, instance, check in problems_in_fix_order(report):
        # An account's finding repeats on each of its instances; its records are written once.
        records = [record for record in check.get("ldif") or [] if record not in written]
        if records:
            parts.append("# %s: %s %s (%s)\n" % (instance["name"], check["check"], check["subject"], check["status"]))
            parts.extend(records)
            written.update(records)
    return "\n".join(parts)
