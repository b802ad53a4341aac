# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exposure audit's reads, for spn_facts: the owner and DACL of every
service account and SQL host computer object (with ms-DS-CreatorSID), the
domain root's (SELF's right to write its own RBKCD) and
ms-DS-MachineAccountQuota, then who the writers are, groups with their
members. Batched: one search per 500 objects, one for the names of every
writer, one per level of nesting for the writer groups' members. The
rules are _exposure.py's."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._exposure import (
    AUTOMATION_DECLARED,
    others_who_may_write,
    self_may_write_rbkcd,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import normalize_dn
from ansible_collections.sqlauth.kerberos.plugins.module_utils._group_membership import sid_term
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_or_filters,
    escape_filter_value,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    SecurityDescriptor,
    SecurityDescriptorError,
    sid_from_bytes,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import computer_account_name

# Members shown per writer group; the count says how many there are.
MEMBERS_SHOWN = 10
# Names of well-known SIDs no directory object carries.
_WELL_KNOWN = {"S-1-1-0": "Everyone", "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
               "S-1-5-7": "NT AUTHORITY\\ANONYMOUS LOGON", "S-1-5-4": "NT AUTHORITY\\INTERACTIVE"}
_COMPUTER_CLASS = "bf967a86-0de6-11d0-a285-00aa003049e2"
_CLASS_GUIDS = {"user": "bf967aba-0de6-11d0-a285-00aa003049e2", "computer": _COMPUTER_CLASS,
                "msds-groupmanagedserviceaccount": "7b8b558a-93a5-4af7-adca-c017e67f1057"}


# Accounts created alike carry byte-identical descriptors (owner and DACL):
# each distinct one is parsed once. Parsing every account's took 40 % of
# spn_facts' CPU at 1,000 instances (bench/README.md). Read-only afterwards.
_DESCRIPTORS = {}


def _descriptor(entry, what):
    raw = entry.binary("nTSecurityDescriptor")
    if raw is None:
        return None
    try:
        descriptor = _DESCRIPTORS.get(raw)
        if descriptor is None:
            descriptor = _DESCRIPTORS[raw] = SecurityDescriptor.from_bytes(raw)
        return descriptor
    except SecurityDescriptorError as error:
        raise SecurityDescriptorError("the nTSecurityDescriptor of %s (%s) read from the DC is not a valid security "
                                      "descriptor (%s)" % (what, entry.dn, error)) from None


class _AccountEntry:
    """An Account read by the SPN audit, as the entry this module reads."""

    def __init__(self, account):
        self.dn = account.dn
        self._account = account

    def binary(self, name):
        return self._account.security_descriptor if name == "nTSecurityDescriptor" else None

    def values(self, name):
        return list(self._account.object_classes) if name == "objectClass" else []


def _has_owner(raw):
    """Whether a descriptor was read with its owner (the owner and DACL
    controls); one read with the DACL alone is read again."""
    if not raw:
        return False
    try:
        descriptor = _DESCRIPTORS.get(raw)
        if descriptor is None:
            descriptor = _DESCRIPTORS[raw] = SecurityDescriptor.from_bytes(raw)
    except SecurityDescriptorError:
        return False
    return descriptor.owner_sid is not None


def _structural_class(entry):
    classes = [value.lower() for value in entry.values("objectClass")]
    for name in ("msds-groupmanagedserviceaccount", "computer", "user"):
        if name in classes:
            return _CLASS_GUIDS[name]
    return None


def read_exposure(client, account_sids, hosts, exempt=(), read=None):
    """dict(accounts={sid: [writer]}, hosts={host folded: dict(name, dn,
    writers, creator)}, domain=dict(machine_account_quota,
    self_may_write_rbkcd)). A writer is dict(sid, name, kind, what, via,
    members, member_count). ``exempt``: names or SIDs of the declared
    automation accounts, not reported. ``read``: {sid: Account} read
    already; those whose descriptor came with its owner are not read again."""
    controls = client.owner_and_dacl_controls()
    attributes = ["nTSecurityDescriptor", "objectClass", "objectSid", "sAMAccountName", "mS-DS-CreatorSID"]
    domain = client.own_domain()
    domain_sid = None
    found_accounts = {sid: _AccountEntry(account) for sid, account in (read or {}).items()
                      if sid in account_sids and _has_owner(account.security_descriptor)}
    if found_accounts:
        domain_sid = next(iter(found_accounts)).rsplit("-", 1)[0]
    to_read = sorted(sid_term(sid) for sid in account_sids if sid not in found_accounts)
    for ldap_filter in batched_or_filters(to_read, max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, attributes, controls=controls):
            sid = sid_from_bytes(entry.binary("objectSid"))[0]
            found_accounts[sid] = entry
            domain_sid = domain_sid or sid.rsplit("-", 1)[0]
    wanted_hosts = {}
    for host in hosts:
        wanted_hosts.setdefault(computer_account_name(host), []).append(host)
    found_hosts = {}
    terms = sorted("(sAMAccountName=%s)" % escape_filter_value(sam) for sam in wanted_hosts)
    for ldap_filter in batched_or_filters(terms, "(&(objectClass=computer)%s)", max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, attributes, controls=controls):
            for host in wanted_hosts.get((entry.value("sAMAccountName") or "").lower(), []):
                found_hosts[host.lower()] = entry
    roots = client.search(client.default_naming_context, "(objectClass=*)",
                          ["nTSecurityDescriptor", "ms-DS-MachineAccountQuota", "objectSid"], scope="base",
                          paged=False, controls=controls)
    root = roots[0] if roots else None
    if root is not None and root.binary("objectSid"):
        domain_sid = sid_from_bytes(root.binary("objectSid"))[0]
    domain_sids = (domain_sid,) if domain_sid else ()

    raw = {}
    for sid, entry in found_accounts.items():
        descriptor = _descriptor(entry, sid)
        # None: not read (no descriptor returned), said so in the report rather than "ok".
        raw[("account", sid)] = others_who_may_write(descriptor, sid, _structural_class(entry), domain_sids) \
            if descriptor else None
    for host, entry in found_hosts.items():
        descriptor = _descriptor(entry, host)
        own = sid_from_bytes(entry.binary("objectSid"))[0]
        raw[("host", host)] = others_who_may_write(descriptor, own, _COMPUTER_CLASS, domain_sids) if descriptor else None
    creators = {host: sid_from_bytes(entry.binary("mS-DS-CreatorSID"))[0]
                for host, entry in found_hosts.items() if entry.binary("mS-DS-CreatorSID")}
    named = _principals(client, {sid for found in raw.values() for sid in found or {}} | set(creators.values()),
                        exempt, domain.get("netbios"))
    exempt_sids = {sid for sid, principal in named.items() if principal.get("exempt")}
    members = _group_members(client, {sid: p for sid, p in named.items() if p["kind"] == "group"
                                      and any(sid in (found or {}) for found in raw.values())},
                             domain.get("netbios"))

    def rows(found):
        if found is None:
            return None
        result = []
        for sid, entry in sorted(found.items(), key=lambda item: named.get(item[0], {}).get("name", item[0]).lower()):
            what = entry["what"]
            if sid in exempt_sids:
                # The declared automation account: only what the permission model grants it is expected.
                what = [item for item in what if item not in AUTOMATION_DECLARED]
                if not what:
                    continue
            principal = named.get(sid) or dict(name=_WELL_KNOWN.get(sid, sid), kind="unknown")
            group = members.get(sid)
            result.append(dict(sid=sid, name=principal["name"], kind=principal["kind"], what=what,
                               via=entry["via"], members=group[:MEMBERS_SHOWN] if group is not None else None,
                               member_count=len(group) if group is not None else None))
        return result

    hosts_out = {}
    for host, entry in found_hosts.items():
        creator = creators.get(host)
        hosts_out[host] = dict(name="%s\\%s" % (domain.get("netbios"), entry.value("sAMAccountName"))
                               if domain.get("netbios") else entry.value("sAMAccountName"), dn=entry.dn,
                               writers=rows(raw[("host", host)]),
                               creator=dict(sid=creator, name=(named.get(creator) or {}).get("name", creator))
                               if creator else None)
    quota = root.value("ms-DS-MachineAccountQuota") if root is not None else None
    root_descriptor = _descriptor(root, "the domain") if root is not None else None
    return dict(accounts={sid: rows(raw[("account", sid)]) for sid in found_accounts}, hosts=hosts_out,
                domain=dict(name=domain.get("dns"), machine_account_quota=int(quota) if quota is not None else None,
                            self_may_write_rbkcd=self_may_write_rbkcd(root_descriptor) if root_descriptor else None))


def _principals(client, sids, exempt, netbios):
    """{sid: dict(name, kind, dn, exempt)} of the writer SIDs and of the
    exempt names (DOMAIN\\name, name or SID), in one batched search."""
    exempt_names, exempt_sids = set(), set()
    for item in exempt or ():
        text = item.strip()
        if text.upper().startswith("S-1-"):
            exempt_sids.add(text.upper())
        else:
            exempt_names.add(text.rpartition("\\")[2].lower())
    terms = [sid_term(sid) for sid in sorted(sids | exempt_sids)]
    terms += ["(sAMAccountName=%s)" % escape_filter_value(name) for name in sorted(exempt_names)]
    named = {}
    for ldap_filter in batched_or_filters(terms, max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter,
                                   ["objectSid", "sAMAccountName", "objectClass"]):
            sid = sid_from_bytes(entry.binary("objectSid"))[0]
            sam = entry.value("sAMAccountName") or entry.dn
            classes = [value.lower() for value in entry.values("objectClass")]
            kind = "group" if "group" in classes else "computer" if "computer" in classes else "user"
            prefix = "BUILTIN" if sid.startswith("S-1-5-32-") else netbios
            named[sid] = dict(name="%s\\%s" % (prefix, sam) if prefix else sam, kind=kind, dn=entry.dn,
                              exempt=sid in exempt_sids or sam.lower() in exempt_names)
    return named


def _group_members(client, groups, netbios):
    """{group sid: sorted member names, nested members included}: the
    groups' member values followed level by level, each level one batched
    search by DN for the members' names and, for groups, their own members
    (a group with more values than the DC returns at once is read to its
    end by ldap3's range retrieval). Not the DC's in-chain search
    (memberOf:1.2.840.113556.1.4.1941:=group), which Samba answers by
    walking every object of the domain: 3.4 s per writer group on the
    bench directory of 25,000 objects, against milliseconds by DN.
    Members the domain does not hold (another domain's) keep their DN."""
    read = {}     # normalized DN: (name, [member DNs])
    pending = {normalize_dn(group["dn"]): group["dn"] for group in groups.values()}
    while pending:
        terms = sorted("(distinguishedName=%s)" % escape_filter_value(dn) for dn in pending.values())
        for ldap_filter in batched_or_filters(terms, max_terms=MAX_FILTER_TERMS):
            for entry in client.search(client.default_naming_context, ldap_filter,
                                       ["sAMAccountName", "objectClass", "member"]):
                sam = entry.value("sAMAccountName")
                name = ("%s\\%s" % (netbios, sam) if netbios else sam) if sam else entry.dn
                is_group = "group" in [value.lower() for value in entry.values("objectClass")]
                read[normalize_dn(entry.dn)] = (name, entry.values("member") if is_group else [])
        for key, dn in pending.items():
            read.setdefault(key, (dn, []))
        pending = {normalize_dn(member): member for name, members in list(read.values()) for member in members
                   if normalize_dn(member) not in read}
    result = {}
    for sid, group in groups.items():
        start = normalize_dn(group["dn"])
        reached, stack = set(), list(read[start][1])
        while stack:
            key = normalize_dn(stack.pop())
            if key in reached or key == start:
                continue
            reached.add(key)
            stack.extend(read[key][1])
        result[sid] = sorted((read[key][0] for key in reached), key=str.lower)
    return result
