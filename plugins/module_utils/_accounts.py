# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Account resolution: from the names DBAs write to AD objects.

Parsing a name and matching it against directory entries is pure;
``resolve_accounts`` does the I/O, one batched search for any number of names.

Accepted forms: ``sAMAccountName``, ``DOMAIN\\name``, ``name@dns.domain``
(explicit or implicit UPN), a distinguished name, a SID, gMSA/computer
``name$``, and the service identities that authenticate on the network as the
host's computer account: LocalSystem, NT AUTHORITY\\NETWORK SERVICE and the
virtual accounts NT SERVICE\\MSSQLSERVER, NT SERVICE\\MSSQL$NAME, ...
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._account_state import (
    ACCOUNT_STATE_ATTRIBUTES,
    ENCRYPTION_TYPES_ATTRIBUTE,
    MANAGED_PASSWORD_READERS,
    account_state,
    managed_password_readers,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    MAX_FILTER_TERMS,
    batched_or_filters,
    escape_filter_value,
    normalize_dn,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    SecurityDescriptorError,
    sid_from_bytes,
    sid_to_bytes,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import SpnError, short_host_name, validate_hostname

# Identities that use the computer account (HOST$) on the network.
_COMPUTER_IDENTITIES = {
    "localsystem", ".\\localsystem", "system", "nt authority\\system", "s-1-5-18",
    "networkservice", "network service", "nt authority\\network service", "nt authority\\networkservice",
    "s-1-5-20",
}
# LocalService presents anonymous credentials on the network: no Kerberos.
_ANONYMOUS_IDENTITIES = {
    "localservice", "local service", "nt authority\\local service", "nt authority\\localservice", "s-1-5-19",
}
_SID = re.compile(r"^S-1-\d+(-\d+)+$", re.IGNORECASE)
# What AD refuses in a sAMAccountName (besides the backslash and control characters).
_SAM_FORBIDDEN = '"/[]:;|+*?<>,'
_DN = re.compile(r"^[A-Za-z][\w-]*=.+", re.IGNORECASE)
# Object classes from most to least specific; the first present names the kind.
_KINDS = (("msds-groupmanagedserviceaccount", "gmsa"), ("msds-managedserviceaccount", "msa"),
          ("computer", "computer"), ("user", "user"), ("group", "group"))
ACCOUNT_ATTRIBUTES = ["sAMAccountName", "userPrincipalName", "objectSid", "objectClass", "dNSHostName",
                      "servicePrincipalName", "userAccountControl", "primaryGroupID"] + ACCOUNT_STATE_ATTRIBUTES


class AccountError(SqlAuthError, ValueError):
    """One or more names that match no account, or more than one."""


@dataclass(frozen=True)
class AccountReference:
    """A parsed account name: ``kind`` is sam, upn, dn, sid or host_computer."""

    text: str
    kind: str
    value: str
    domain: str | None = None

    def filter_terms(self, first_choice=False):
        """Equality terms finding every account pick() could choose; with
        first_choice, a bare name's term only, without its name$ fallback
        (the one-pass audit, _spn_audit, searches it only for a name not found)."""
        if self.kind == "sam":
            terms = ["(sAMAccountName=%s)" % escape_filter_value(self.value)]
            if not self.value.endswith("$") and not first_choice:
                terms.append("(sAMAccountName=%s$)" % escape_filter_value(self.value))
            return terms
        if self.kind == "upn":
            prefix = self.value.split("@", 1)[0]
            return ["(userPrincipalName=%s)" % escape_filter_value(self.value),
                    "(sAMAccountName=%s)" % escape_filter_value(prefix)]
        if self.kind == "dn":
            return ["(distinguishedName=%s)" % escape_filter_value(self.value)]
        if self.kind == "sid":
            return ["(objectSid=%s)" % escape_filter_value(sid_to_bytes(self.value))]
        # dNSHostName is not indexed (searchFlags 0, on Windows as on Samba):
        # one such term turns the whole OR filter into a scan of every object
        # against every term; 1,000 instances took 46 s or timed out
        # (bench/README.md). A computer's HOST/fqdn SPN is indexed and names
        # the same host; pick() still compares dNSHostName.
        return ["(servicePrincipalName=HOST/%s)" % escape_filter_value(self.value),
                "(sAMAccountName=%s$)" % escape_filter_value(short_host_name(self.value))]

    def index_keys(self):
        """The keys of _index_candidates under which every account that
        pick() could choose is filed (a superset is fine: pick() decides)."""
        value = self.value.lower()
        if self.kind == "sam":
            return [value, value + "$"]
        if self.kind == "upn":
            return [value, value.partition("@")[0]]
        if self.kind == "dn":
            return [normalize_dn(self.value)]
        if self.kind == "sid":
            return [value]
        return [value, short_host_name(value) + "$"]

    def pick(self, candidates, dns_domain):
        """The candidates this reference names, best match first: a list of
        one is resolved, none is unknown, several are ambiguous."""
        def sam(account):
            return account.sam_account_name.lower()

        value = self.value.lower()
        if self.kind == "sam":
            return ([a for a in candidates if sam(a) == value]
                    or [a for a in candidates if sam(a) == value + "$"])
        if self.kind == "upn":
            prefix, suffix = value.partition("@")[::2]
            explicit = [a for a in candidates if (a.upn or "").lower() == value]
            # Every account also answers to the implicit UPN sAMAccountName@domain.
            return explicit or [a for a in candidates if suffix == dns_domain and sam(a) == prefix]
        if self.kind == "dn":
            return [a for a in candidates if normalize_dn(a.dn) == normalize_dn(self.value)]
        if self.kind == "sid":
            return [a for a in candidates if a.sid.upper() == self.value.upper()]
        # The host's own computer account, not a gMSA named after the host.
        computers = [a for a in candidates if a.kind == "computer"]
        return ([a for a in computers if (a.dns_host_name or "").lower() == value]
                or [a for a in computers if sam(a) == short_host_name(value) + "$"])


@dataclass(frozen=True)
class Member:
    """An account as group expansion (_group_membership) takes it: its DN
    and its primaryGroupID (a RID, or None), read with the account."""

    dn: str
    primary_group: int | None = None


@dataclass
class Account:
    """An AD account as the modules need it."""

    dn: str
    sid: str
    sam_account_name: str
    domain_netbios: str | None
    upn: str | None = None
    object_classes: list = field(default_factory=list)
    dns_host_name: str | None = None
    spns: list = field(default_factory=list)
    user_account_control: int = 0
    security_descriptor: bytes | None = None
    # msDS-User-Account-Control-Computed, accountExpires, pwdLastSet and
    # msDS-AllowedToDelegateTo, as read (see state()).
    computed_account_control: int = 0
    account_expires: str | None = None
    pwd_last_set: str | None = None
    allowed_to_delegate_to: list = field(default_factory=list)
    managed_password_membership: bytes | None = None
    supported_encryption_types: str | None = None
    # msDS-KeyVersionNumber, where it was read (SPN holders).
    key_version_number: int | None = None
    primary_group_id: int | None = None

    @property
    def name(self):
        """DOMAIN\\sAMAccountName, the way Windows shows it."""
        return "%s\\%s" % (self.domain_netbios, self.sam_account_name) if self.domain_netbios else self.sam_account_name

    @property
    def kind(self):
        classes = {c.lower() for c in self.object_classes}
        return next((kind for cls, kind in _KINDS if cls in classes), "other")

    @property
    def is_user_class(self):
        """Users, computers and (g)MSAs: what a service can run as."""
        return "user" in {c.lower() for c in self.object_classes}

    @property
    def is_computer(self):
        return "computer" in {c.lower() for c in self.object_classes}

    @property
    def structural_class(self):
        return self.object_classes[-1] if self.object_classes else None

    def summary(self):
        return dict(name=self.name, dn=self.dn, sid=self.sid, kind=self.kind)

    def as_member(self):
        """The account as group expansion takes it (_group_membership.Member)."""
        return Member(self.dn, self.primary_group_id)

    def state(self):
        """What the account's attributes say about it (_account_state.py)."""
        return account_state(self.user_account_control, self.computed_account_control, self.account_expires,
                             self.pwd_last_set, self.allowed_to_delegate_to, self.supported_encryption_types)

    def password_readers(self):
        """The SIDs that may retrieve a gMSA's password, None for other accounts."""
        return managed_password_readers(self.managed_password_membership, self.name)


def parse_account_items(items):
    """A module's ``accounts`` option: each item an account name, or a dict
    of ``account`` and ``host`` (a service identity of that host). Returns
    (references, problems): every item parsed, each problem said, and
    "accounts is empty" when there is nothing to parse."""
    problems, references = [], []
    for item in items or []:
        name, host = (item.get("account"), item.get("host")) if isinstance(item, dict) else (item, None)
        try:
            references.append(parse_account_reference(name, host))
        except AccountError as error:
            problems.append(str(error))
    if not references and not problems:
        problems.append("accounts is empty")
    return references, problems


def parse_account_reference(text, host=None):
    """Parse an account name; ``host`` (the SQL host's FQDN) is needed for the
    service identities that map to the host's computer account."""
    if not isinstance(text, str) or not text.strip():
        raise AccountError("service account name is empty")
    name = text.strip()
    folded = name.lower()
    if folded in _ANONYMOUS_IDENTITIES:
        raise AccountError(
            "%r presents anonymous credentials on the network, so clients cannot use Kerberos with it: run "
            "SQL Server as a domain account, a gMSA, or a virtual account (NT SERVICE\\...)" % text)
    if folded in _COMPUTER_IDENTITIES or folded.startswith("nt service\\") or folded.startswith("s-1-5-80-"):
        if not host:
            raise AccountError("%r is the host's computer account; the host's FQDN is needed to find it" % text)
        try:
            return AccountReference(text, "host_computer", validate_hostname(host))
        except SpnError as error:
            raise AccountError(str(error)) from None
    if _SID.match(name):
        try:
            sid_to_bytes(name)
        except SecurityDescriptorError as error:
            raise AccountError("%r is not a valid SID: %s" % (text, error)) from None
        return AccountReference(text, "sid", name.upper())
    # Before DOMAIN\name and UPNs: a DN may hold escaped commas (CN=Doe\, John) or '@'.
    if _DN.match(name):
        return AccountReference(text, "dn", name)
    if "\\" in name:
        domain, account = name.partition("\\")[::2]
        if not domain or not account or "\\" in account:
            raise AccountError("%r is not of the form DOMAIN\\name" % text)
        if domain == "." or (host and domain.lower() == short_host_name(host.lower())):
            raise AccountError(
                "%r is a local account of the host; it has no Kerberos identity in AD, run SQL Server as a "
                "domain account, a gMSA or a virtual account" % text)
        _check_sam_account_name(account, text)
        return AccountReference(text, "sam", account, domain)
    if "@" in name:
        prefix, suffix = name.partition("@")[::2]
        if not prefix or not suffix or "@" in suffix:
            raise AccountError("%r is not a valid user principal name" % text)
        return AccountReference(text, "upn", name)
    if "=" in name:
        if not _DN.match(name):
            raise AccountError("%r is not a valid distinguished name" % text)
        return AccountReference(text, "dn", name)
    _check_sam_account_name(name, text)
    return AccountReference(text, "sam", name)


def _check_sam_account_name(name, text):
    """Raise AccountError when ``name`` has a character AD forbids in a
    sAMAccountName (DOMAIN\\name is checked too: a name read from AD, such as
    a service connection point's, may hold anything)."""
    if any(c in name for c in _SAM_FORBIDDEN) or any(ord(c) < 32 for c in name):
        raise AccountError("%r contains characters a sAMAccountName cannot have" % text)


def _index_candidates(candidates):
    """Candidates filed under every value a reference may name them by, so
    that each reference's pick() looks at a handful of accounts instead of
    all of them (quadratic: 5,000 names took ~10 s of CPU, bench/README.md)."""
    index = {}
    for account in candidates:
        keys = {account.sam_account_name.lower(), account.sid.lower(), normalize_dn(account.dn)}
        keys.update(value.lower() for value in (account.upn, account.dns_host_name) if value)
        for key in keys:
            index.setdefault(key, []).append(account)
    return index


def _near(index, reference):
    found = {}
    for key in reference.index_keys():
        for account in index.get(key, ()):
            found.setdefault(id(account), account)
    return list(found.values())


def account_from_entry(entry, domain_netbios):
    sid = sid_from_bytes(entry.binary("objectSid"))[0]
    return Account(
        dn=entry.dn,
        sid=sid,
        sam_account_name=entry.value("sAMAccountName"),
        domain_netbios=domain_netbios,
        upn=entry.value("userPrincipalName"),
        object_classes=entry.values("objectClass"),
        dns_host_name=entry.value("dNSHostName"),
        spns=entry.values("servicePrincipalName"),
        user_account_control=int(entry.value("userAccountControl") or 0),
        security_descriptor=entry.binary("nTSecurityDescriptor"),
        computed_account_control=int(entry.value("msDS-User-Account-Control-Computed") or 0),
        account_expires=entry.value("accountExpires"),
        pwd_last_set=entry.value("pwdLastSet"),
        allowed_to_delegate_to=entry.values("msDS-AllowedToDelegateTo"),
        managed_password_membership=entry.binary(MANAGED_PASSWORD_READERS),
        supported_encryption_types=entry.value(ENCRYPTION_TYPES_ATTRIBUTE),
        key_version_number=int(entry.value("msDS-KeyVersionNumber")) if entry.value("msDS-KeyVersionNumber") else None,
        primary_group_id=int(entry.value("primaryGroupID")) if entry.value("primaryGroupID") else None,
    )


def _domain_problem(reference, domain):
    """Why a reference cannot be resolved over this connection, or None."""
    if reference.domain and reference.domain.lower() not in (
            (domain["netbios"] or "").lower(), (domain["dns"] or "").lower()):
        return ("%r is in domain %s, but this connection is to %s (%s): connect to a DC of that "
                "domain" % (reference.text, reference.domain, domain["netbios"], domain["dn"]))
    return None


def find_accounts(client, references, with_security_descriptor=False):
    """Resolve AccountReferences in the connection's domain with as few
    searches as the filter size allows, reporting instead of raising what
    does not resolve. Returns ({reference: Account}, {reference: problem})."""
    domain = client.own_domain()
    problems = {}
    for reference in references:
        problem = _domain_problem(reference, domain)
        if problem:
            problems[reference] = problem
    searchable = [reference for reference in references if reference not in problems]
    candidates = search_accounts(client, user_filters({term for reference in searchable
                                                       for term in reference.filter_terms()}),
                                 with_security_descriptor)
    resolved, missing = match_accounts(searchable, candidates, domain)
    problems.update(missing)
    note_ambiguous_names(client, resolved, candidates)
    return resolved, problems


def ambiguous_short_names(resolved, candidates):
    """{reference: message} for bare names (``x``) that resolved to a user
    while a computer ``x$`` exists too: AD allows both, and a DBA who meant
    the host's computer account gets the user without a word otherwise.
    Only the computers among ``candidates`` are seen (find_accounts always
    searches ``x$`` too; the one-pass audit sees it when it holds an SPN of
    the estate, the case where the plan would move that SPN)."""
    computers = {}
    for account in candidates.values():
        if account.is_computer:
            computers[account.sam_account_name.lower()] = account
    messages = {}
    for reference, account in resolved.items():
        if reference.kind != "sam" or reference.value.endswith("$") or account.is_computer:
            continue
        computer = computers.get(reference.value.lower() + "$")
        if computer is not None:
            messages[reference] = (
                "account name %r matches both the user %s and the %s %s; the user was taken (a bare name is a "
                "user's, as in Windows): write %r for the %s, or a distinguished name, to say which"
                % (reference.text, account.name, _KIND_NAMES.get(computer.kind, "computer"), computer.name,
                   reference.value + "$", _KIND_NAMES.get(computer.kind, "computer")))
    return messages


_KIND_NAMES = {"computer": "computer", "gmsa": "gMSA", "msa": "managed service account"}


def note_ambiguous_names(client, resolved, candidates):
    """Ambiguous bare names fail the module before anything is written when
    the connection's options say ambiguous_names=fail (whatever else would
    skip an unknown name), and are warnings on the client otherwise."""
    messages = ambiguous_short_names(resolved, candidates)
    if (getattr(client, "options", None) or {}).get("ambiguous_names") == "fail" and messages:
        raise AccountError("; ".join(messages.values()) + " (ambiguous_names=fail); nothing written")
    for message in messages.values():
        if message not in getattr(client, "warnings", [message]):
            client.warnings.append(message)


def user_filters(terms):
    """Batched filters for the user-class objects matching any of ``terms``."""
    return batched_or_filters(sorted(terms), "(&(objectClass=user)%s)", max_terms=MAX_FILTER_TERMS)


def search_accounts(client, filters, with_security_descriptor=False, with_owner=False):
    """The objects of the domain matching ``filters``, as Accounts with their
    SPNs: {dn folded: Account}. ``with_owner``: the descriptor's owner too
    (the exposure audit's question, answered from the same read)."""
    domain = client.own_domain()
    attributes = ACCOUNT_ATTRIBUTES + (["nTSecurityDescriptor"] if with_security_descriptor else [])
    controls = None
    if with_security_descriptor:
        controls = client.owner_and_dacl_controls() if with_owner else client.dacl_controls()
    candidates = {}
    for ldap_filter in filters:
        for entry in client.search(client.default_naming_context, ldap_filter, attributes, controls=controls):
            candidates[entry.dn.lower()] = account_from_entry(entry, domain["netbios"])
    return candidates


def match_accounts(references, candidates, domain):
    """pick() for every reference among candidate accounts ({dn: Account}):
    ({reference: Account}, {reference: problem}) for unknown or ambiguous names."""
    resolved, problems = {}, {}
    index = _index_candidates(account for account in candidates.values() if account.is_user_class)
    for reference in references:
        matches = reference.pick(_near(index, reference), domain["dns"])
        if len(matches) == 1:
            resolved[reference] = matches[0]
        elif not matches:
            problems[reference] = "account %r was not found in %s" % (reference.text, domain["dn"])
        else:
            problems[reference] = ("account %r is ambiguous: it matches %s"
                                   % (reference.text, ", ".join(sorted(a.dn for a in matches))))
    return resolved, problems


def refuse_other_domains(client, references):
    """Raise AccountError naming every reference to another domain than the
    connection's, before anything is searched."""
    domain = client.own_domain()
    foreign = [problem for problem in (_domain_problem(reference, domain) for reference in references) if problem]
    if foreign:
        raise AccountError("; ".join(foreign))


def raise_problems(references, problems):
    if problems:
        raise AccountError("; ".join(problems[reference] for reference in references if reference in problems))


def resolve_accounts(client, references, with_security_descriptor=False):
    """Resolve AccountReferences in the connection's domain with as few
    searches as the filter size allows. Returns {reference: Account}; raises
    AccountError naming every unknown or ambiguous name at once."""
    refuse_other_domains(client, references)
    resolved, problems = find_accounts(client, references, with_security_descriptor)
    raise_problems(references, problems)
    return resolved
