# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The permission model: every right the collection's steps need, on which
objects, in which mode - one table, read by the docsite's Permissions page
(docs/permissions_page.py), by the error a refused write gives, and by the
exposure audit (which rights on an account are an attack path). Pure code.

Each attribute the modules write has its entry here: a write the table does
not declare fails the unit tests. The GUIDs are the schema's and the same in
every forest (Active Directory Technical Specification, [MS-ADTS])."""
from __future__ import annotations

from dataclasses import dataclass

# Where the table is published (the docsite page docs/permissions_page.py writes).
PAGE = "guide_permissions"


@dataclass(frozen=True)
class Permission:
    id: str
    step: str
    modes: str
    objects: str
    right: str
    dsacls: str
    attribute: str | None = None
    attribute_guid: str | None = None
    # False: no ACE grants it (a privilege); generate mode hands it to a Domain Admin.
    delegable: bool = True
    note: str = ""


PERMISSIONS = (
    Permission("PRM001", "audit: spn_facts, dns_facts, kerberos_probe, inventory_discover, rbkcd_delegate and "
               "sql_static_port in check mode, the drift report", "every mode",
               "the domain (accounts, groups, computers, the Global Catalog)",
               "read, as Authenticated Users may by default: the attributes, and the DACL of nTSecurityDescriptor "
               "(READ_CONTROL) of the service accounts", "none: the defaults of Authenticated Users",
               note="The KDC probe needs only a Kerberos ticket of any domain user; dns_facts also asks the "
                    "domain's DNS servers."),
    Permission("PRM002", "spn_register (role spn_registration)", "apply",
               "the SQL service accounts (users, gMSAs, computers), and any account an SPN is moved from",
               "read and write servicePrincipalName",
               "RPWP;servicePrincipalName", "servicePrincipalName", "f3a64788-5306-11d1-a9c5-0000f80367c1",
               note="The validated write to SPNs (SW) is not enough: it allows only names of the account's own "
                    "host."),
    Permission("PRM003", "spn_acl (role spn_write_acl)", "apply",
               "the SQL service accounts (users, gMSAs)",
               "modify permissions (WRITE_DAC), to grant SELF the right to write its own SPNs",
               "WD", "nTSecurityDescriptor",
               note="Or have an AD admin grant SELF the SPN rights once, inheritable, on the OU of the service "
                    "accounts: the step then changes nothing."),
    Permission("PRM004", "rbkcd_delegate (role linked_server_delegation)", "apply",
               "the back ends' service accounts (users, gMSAs, computers)",
               "read and write msDS-AllowedToActOnBehalfOfOtherIdentity",
               "RPWP;msDS-AllowedToActOnBehalfOfOtherIdentity", "msDS-AllowedToActOnBehalfOfOtherIdentity",
               "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79",
               note="Whoever holds it may impersonate any user to that SQL Server: grant it on the OUs of the SQL "
                    "service accounts only."),
    Permission("PRM005", "kerberos_encryption_types", "apply",
               "the SQL service accounts (users, gMSAs)",
               "read and write msDS-SupportedEncryptionTypes",
               "RPWP;msDS-SupportedEncryptionTypes", "msDS-SupportedEncryptionTypes",
               "20119867-1d04-4ab7-9371-cfc3d5df0afd"),
    Permission("PRM006", "delegation_flags (sql_kerberos_clear_unconstrained_delegation)", "apply",
               "the SQL service accounts", "write userAccountControl, and the privilege "
               "SeEnableDelegationPrivilege to change its delegation flags (on Windows: Domain Admins)",
               "RPWP;userAccountControl", "userAccountControl", "bf967a68-0de6-11d0-a285-00aa003049e2",
               delegable=False,
               note="No ACE grants the privilege: leave the step off for a delegated account and give generate "
                    "mode's script to a Domain Admin."),
    Permission("PRM007", "the guarded writes of spn_acl, rbkcd_delegate and delegation_flags", "apply",
               "the accounts those steps write", "read and write extensionName (a token that makes a replace of "
               "a value conditional)", "RPWP;extensionName", "extensionName",
               "bf967972-0de6-11d0-a285-00aa003049e2"),
    Permission("PRM009", "automation_rights, and spn_acl on OUs (role automation_account, run once)", "apply",
               "the OUs of the SQL service accounts, gMSAs and host computer objects",
               "modify permissions (WRITE_DAC) on the OUs: an AD admin, once", "WD", "nTSecurityDescriptor",
               note="What lets an admin hand the other rights to the automation account; the pipeline itself never "
                    "needs it."),
    Permission("PRM008", "sql_static_port (role sql_static_port)", "apply",
               "the SQL Server hosts (not AD)", "a local administrator over WinRM (Windows), or root by the "
               "Ansible connection (Linux)", "none: a host right"),
)


def permissions_for(attribute):
    """The permissions that grant writing ``attribute`` (a DACL on an
    account or on an OU: two), or []."""
    return [p for p in PERMISSIONS if p.attribute and p.attribute.lower() == (attribute or "").lower()]


def refused_write_hint(attributes):
    """What a refused write of ``attributes`` needs, in words, with the
    permission IDs and where the table is; '' when none is declared."""
    found = list(dict.fromkeys(p for name in attributes for p in permissions_for(name)))
    if not found:
        return ""
    return "; it needs %s (permission %s, docsite page Permissions)" % (
        " and ".join("%s (dsacls %s)" % (p.right, p.dsacls) for p in found), ", ".join(p.id for p in found))
