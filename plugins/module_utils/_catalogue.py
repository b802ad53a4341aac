# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue of checks: every finding the drift report can emit, with a
stable ID, a severity, the symptom users see, the fix in words, and what
generate mode writes for it. The drift report, its renderings and the
docsite's page of checks read this one table.

IDs are never reused: a check that goes away keeps its ID retired here
(RETIRED_IDS). Adding a check is a function in _drift_report.py that emits
its status, one entry here, and one lab scenario.

Waivers and severity overrides (an inventory's accepted risks) are applied
to a built report here too: pure code, no I/O, today's date passed in.
"""
from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

SEVERITIES = ("info", "warning", "error")


class CatalogueError(SqlAuthError, ValueError):
    """A waiver, override or fail_on setting that cannot be applied as written."""


@dataclass(frozen=True)
class Finding:
    """One kind of finding: what ``check`` reports with ``status``."""

    id: str
    check: str
    status: str
    title: str
    severity: str
    breaks: str
    symptom: str
    fix: str
    generate: str

    def as_dict(self):
        return asdict(self)


_SSPI = ('"The target principal name is incorrect. Cannot generate SSPI context", or a silent fall back to NTLM '
         "(no delegation, weaker authentication)")

CATALOGUE = (
    Finding("SPN001", "spn", "missing", "SPN not registered", "error",
            "Kerberos logins: Cannot generate SSPI context, or NTLM",
            "Clients cannot get a Kerberos ticket for the instance: " + _SSPI + ".",
            "Register the SPN on the instance's service account.",
            "setspn -S (PowerShell); an add of servicePrincipalName (LDIF)"),
    Finding("SPN002", "spn", "duplicate", "SPN held by more than one account", "error",
            "Kerberos logins: Cannot generate SSPI context, or NTLM",
            "The KDC issues no ticket for a duplicate SPN: " + _SSPI + ".",
            "Remove the SPN from every account but the instance's service account.",
            "setspn -D for the other holders (PowerShell); deletes of the value (LDIF)"),
    Finding("SPN003", "spn", "wrong_account", "SPN on the wrong account", "error",
            "Kerberos logins: Cannot generate SSPI context",
            "Tickets are encrypted for an account SQL Server does not run as, so it cannot decrypt them: "
            + _SSPI + ".",
            "Move the SPN from the account that holds it to the instance's service account.",
            "setspn -D then setspn -S (PowerShell); a delete and an add (LDIF)"),
    Finding("SPN004", "spn", "conflict", "SPN required on two accounts", "error",
            "Kerberos logins to all but one of the instances",
            "Instances that share a name (availability group replicas, a listener) run under different accounts: "
            "an SPN lives on one account, so clients of the others get " + _SSPI + ".",
            "Run the instances that share the name under one service account (a gMSA or a domain account).",
            "none: an inventory decision"),
    Finding("SPN005", "spn", "stale", "Stale SPN", "warning",
            "nothing yet: a wrong ticket the day the name is reused",
            "An MSSQLSvc SPN names an inventory host but no instance uses it (an old port, a removed instance): "
            "if an instance is later given that port or name under another account, the SPN becomes a duplicate "
            "or sits on the wrong account, and clients get " + _SSPI + ".",
            "Remove the SPN from the account that holds it. Not stale: host:port on the account of an instance "
            "with a dynamic port, which SQL Server registers for itself at every start.",
            "setspn -D (PowerShell); a delete of the value (LDIF)"),
    Finding("ACL001", "spn_write_acl", "acl_missing", "Service account may not write its own SPNs", "warning",
            "SQL Server registering its own SPNs",
            '"SQL Server cannot register its SPNs": at start-up SQL Server logs "The SQL Server Network Interface '
            'library could not register the Service Principal Name" and relies on SPNs registered by hand.',
            "Grant SELF read/write servicePrincipalName and the validated SPN write on the account.",
            "dsacls /G SELF:RPWP;servicePrincipalName and SELF:WS (PowerShell); not in LDIF"),
    Finding("DLG001", "delegation", "delegation_missing", "Linked server cannot delegate", "error",
            "linked-server queries as the caller (ANONYMOUS LOGON)",
            'Linked-server queries run as the server, not the caller: "Login failed for user '
            'NT AUTHORITY\\ANONYMOUS LOGON" on the back end (the double hop).',
            "Allow the front end's service account to delegate to the back end's, with resource-based "
            "constrained delegation (msDS-AllowedToActOnBehalfOfOtherIdentity), keeping existing entries.",
            "Set-AD* -PrincipalsAllowedToDelegateToAccount keeping the entries (PowerShell); an add where the "
            "attribute is absent (LDIF)"),
    Finding("DLG002", "delegation_risk", "unconstrained_delegation", "Unconstrained delegation", "warning",
            "nothing yet: a risk to every user of the instance",
            "Works for linked servers, but every client's ticket to the instance carries the client's TGT: whoever "
            "controls the instance (or its account) can act as any of its users, administrators included, "
            "anywhere in the forest.",
            "Set resource-based constrained delegation for the instance's linked servers, then clear 'Trust this "
            "account for delegation to any service' (on Windows that needs SeEnableDelegationPrivilege, a Domain "
            "Admins right).",
            "Set-ADAccountControl -TrustedForDelegation $false (PowerShell); not in LDIF"),
    Finding("DLG003", "delegation_risk", "protocol_transition", "Protocol transition allowed", "warning",
            "nothing yet: a risk to every user of the services it may delegate to",
            "The account may obtain tickets as any user without their password (S4U2Self) and pass them on to "
            "every service it may delegate to.",
            "Clear 'Use any authentication protocol' (TRUSTED_TO_AUTH_FOR_DELEGATION): linked servers delegate by "
            "resource-based constrained delegation, which does not need it.",
            "Set-ADAccountControl -TrustedToAuthForDelegation $false (PowerShell); not in LDIF"),
    Finding("DLG004", "delegation", "front_end_sensitive", "Front end's account cannot be delegated", "error",
            "linked-server queries as the caller (ANONYMOUS LOGON)",
            "The front end's service account is marked 'Account is sensitive and cannot be delegated': the KDC "
            'refuses its delegation requests, and linked-server queries fail with "Login failed for user '
            'NT AUTHORITY\\ANONYMOUS LOGON".',
            "Clear the flag on the service account, or run the front end under an account that may delegate.",
            "Set-ADAccountControl -AccountNotDelegated $false (PowerShell); not in LDIF"),
    Finding("DLG005", "delegation", "self_entry", "Account allowed to delegate to itself", "info",
            "nothing: an unneeded entry",
            "Both ends of the linked server run as one account, which lists itself in "
            "msDS-AllowedToActOnBehalfOfOtherIdentity: a service may always use tickets to its own SPNs, so the "
            "entry grants nothing and only clutters the attribute.",
            "Remove the account from its own PrincipalsAllowedToDelegateToAccount, keeping the other entries.",
            "Set-AD* -PrincipalsAllowedToDelegateToAccount without the entry (PowerShell); not in LDIF"),
    Finding("DLG006", "delegation", "caller_not_delegable", "Linked-server callers who cannot be delegated",
            "error", "those callers' linked-server queries (ANONYMOUS LOGON)",
            "Users who query through the linked server are marked 'Account is sensitive and cannot be delegated' "
            "or are members of Protected Users: the KDC never delegates them, so their queries fail on the back end "
            'with "Login failed for user NT AUTHORITY\\ANONYMOUS LOGON", whatever the delegation allows.',
            "Decide per user: clear the flag or the Protected Users membership if they must use the linked server "
            "(both exist to protect privileged accounts), or give them another way to the data.",
            "Set-ADAccountControl -AccountNotDelegated $false, Remove-ADGroupMember 'Protected Users' "
            "(PowerShell); not in LDIF"),
    Finding("ACC001", "account", "account_disabled", "Service account disabled", "error",
            "the instance: SQL Server does not start",
            "SQL Server cannot log on as a disabled account: the service does not start (error 1069, "
            "\"The service did not start due to a logon failure\"), and the KDC still issues tickets for its SPNs "
            "that nothing can use.",
            "Enable the account, or correct the inventory if the instance runs as another account.",
            "Enable-ADAccount (PowerShell); not in LDIF"),
    Finding("ACC002", "account", "account_locked", "Service account locked out", "error",
            "the instance at its next start",
            "SQL Server cannot log on as a locked-out account until the lockout ends: the service does not start "
            "(error 1069). Often another host still tries an old password.",
            "Unlock the account and find what keeps using an old password.",
            "Unlock-ADAccount (PowerShell); not in LDIF"),
    Finding("ACC003", "account", "account_expired", "Service account expired", "error",
            "the instance at its next start",
            "The account's expiry date has passed: SQL Server cannot log on as it (error 1069).",
            "Clear the account's expiry date: a service account should not expire.",
            "Clear-ADAccountExpiration (PowerShell); not in LDIF"),
    Finding("ACC004", "account", "password_expired", "Service account password expired", "error",
            "the instance at its next start",
            "The password has expired or must be changed at next logon: SQL Server cannot log on with it at its "
            "next start (error 1069), and clients of a running instance keep working only until then.",
            "Set a new password and give it to the SQL Server service, or move the instance to a gMSA.",
            "Set-ADAccountPassword -Reset (PowerShell); not in LDIF"),
    Finding("ACC005", "account_privilege", "privileged_account", "Privileged service account holds an SPN",
            "warning",
            "nothing yet: the domain, once the account's password is cracked",
            "Anyone in the domain can request a service ticket for an account with an SPN and crack its password "
            "offline, unseen (kerberoasting); the account runs SQL Server, so it holds SPNs, and as a member of "
            "Domain Admins, Enterprise Admins, Schema Admins, Administrators or Account Operators its password is "
            "the domain's. A gMSA's password cannot be cracked, but every host allowed to read it holds the same "
            "rights.",
            "Run SQL Server as a dedicated account in no privileged group, or as a gMSA, which needs no group: "
            "remove the account from the privileged groups.",
            "Remove-ADGroupMember for each direct membership, Set-ADObject for a privileged primary group "
            "(PowerShell); not in LDIF"),
    Finding("ACC006", "account", "gmsa_password_unreadable", "Host may not retrieve the gMSA's password", "error",
            "the instance: SQL Server does not start",
            "The SQL host's computer account is not among the principals allowed to retrieve the group managed "
            "service account's password (msDS-GroupMSAMembership, directly or through a group): the service cannot "
            "log on as the gMSA and does not start (error 1069).",
            "Add the host's computer account (or a group it is in) to PrincipalsAllowedToRetrieveManagedPassword, "
            "keeping the principals there.",
            "Set-ADServiceAccount -PrincipalsAllowedToRetrieveManagedPassword (PowerShell); not in LDIF"),
    Finding("DNS001", "dns", "unresolved", "Name does not resolve", "error",
            "connections by the name, and Kerberos for it",
            "The DNS servers the domain's clients use give no address for the name (no A or AAAA record, or a "
            "CNAME chain that ends nowhere): clients cannot connect by it, or, given an address some other way, "
            "build no SPN and fall back to NTLM.",
            "Add the name's address record (and its PTR) in the domain's DNS, or correct the name in the inventory.",
            "Add-DnsServerResourceRecordA (PowerShell), with the address to fill in; not in LDIF"),
    Finding("DNS002", "dns", "alias_cname", "Alias by CNAME", "info",
            "nothing: clients build the SPNs of the canonical host",
            "The alias is a CNAME of the instance's host (or listener): clients resolve it and ask for the "
            "canonical name's SPNs, which the instance's account already needs; the alias needs none of its own.",
            "None needed. An SPN registered for the alias itself is unused.",
            "none"),
    Finding("DNS003", "dns", "alias_address", "Alias by address record", "info",
            "nothing, once its SPNs are registered: Kerberos by the alias",
            "The alias has an address record of its own: clients keep its name and ask for MSSQLSvc/alias SPNs, "
            "which are therefore required on the instance's account (and reported as SPN findings when missing).",
            "Let the site playbook register the alias's SPNs, or make the alias a CNAME of the host.",
            "setspn -S in the SPN findings (PowerShell); adds of servicePrincipalName (LDIF)"),
    Finding("DNS004", "dns", "ptr_mismatch", "Reverse lookup names another host", "warning",
            "Kerberos from clients that build the SPN from the reverse lookup (older drivers, some JDBC and "
            "Linux set-ups with rdns)",
            "The PTR record of the host's address is missing or names another host: clients that canonicalise by "
            "reverse lookup ask for the other host's SPNs and get " + _SSPI + ".",
            "Make the address's PTR record name the host (remove the others).",
            "Add-DnsServerResourceRecordPtr and Remove-DnsServerResourceRecord (PowerShell); not in LDIF"),
    Finding("DNS005", "dns", "host_name_mismatch", "Inventory name differs from the computer's DNS name", "warning",
            "Kerberos when clients use the computer's own name",
            "The computer account's dNSHostName is not the inventory's name for the host: SQL Server registers "
            "its own SPNs under dNSHostName, and clients connecting by the other name need SPNs the host never "
            "registers.",
            "Use the computer's DNS name in the inventory, or set the host's primary DNS suffix so that it "
            "registers the name clients use.",
            "none: a host or inventory setting"),
    Finding("DNS006", "dns", "short_name_mismatch", "Short name resolves to another host", "warning",
            "connections by the short name, and Kerberos for them",
            "The host's short name, qualified with the domain's DNS suffix as clients qualify it, does not resolve "
            "to the host's addresses: clients connecting by the short name reach another host or none.",
            "Add or correct the record of the short name under the domain's suffix, or have clients use the "
            "fully qualified name.",
            "none: a DNS or client setting"),
    Finding("DNS007", "dns", "name_elsewhere", "Name leads to another host", "warning",
            "Kerberos by the name: Cannot generate SSPI context, or NTLM",
            "The name is a CNAME of another name, or an alias whose addresses are not its instance's: clients "
            "build the SPNs of the name DNS leads them to, not of the instance they mean.",
            "Point the alias at the instance's host (a CNAME), or use the canonical name in the inventory.",
            "Remove-DnsServerResourceRecord and Add-DnsServerResourceRecordCName (PowerShell), for an alias"),
    Finding("DNS008", "dns", "several_addresses", "Name has several addresses", "info",
            "connection time, unless clients set MultiSubnetFailover",
            "The name resolves to more than one address (a multi-subnet listener, a multi-homed host): clients "
            "try them in turn unless they connect with MultiSubnetFailover=True; each address's PTR is checked.",
            "Connect with MultiSubnetFailover=True (listeners); otherwise register only the addresses clients "
            "reach.",
            "none"),
    Finding("ENC001", "encryption", "rc4_only", "Service tickets only in RC4", "warning",
            "nothing yet: Kerberos once RC4 is disabled, and the account's password sooner",
            "The KDC encrypts the account's service tickets with RC4 (msDS-SupportedEncryptionTypes absent or "
            "without AES): RC4 tickets are what offline attacks on a service account's password feed on, and "
            "Microsoft is removing RC4 from Kerberos defaults, after which clients get no ticket.",
            "Set the account's encryption types to AES (the site playbook does, sql_kerberos_encryption_types), "
            "or AES and RC4 while old clients still need RC4.",
            "Set-ADUser / Set-ADServiceAccount -KerberosEncryptionType (PowerShell); a delete and an add of "
            "msDS-SupportedEncryptionTypes (LDIF)"),
    Finding("ENC002", "encryption", "des_enabled", "DES allowed", "error",
            "Kerberos for the account: DES is off on every DC since Windows Server 2008 R2",
            "The account allows DES (msDS-SupportedEncryptionTypes DES bits, or 'Use only Kerberos DES encryption "
            "types' in userAccountControl): DCs no longer issue DES tickets, and a DES-only account gets none.",
            "Clear 'Use only Kerberos DES encryption types' and set the encryption types to AES.",
            "Set-ADAccountControl -UseDESKeyOnly $false, Set-ADUser -KerberosEncryptionType (PowerShell); the "
            "attribute in LDIF"),
    Finding("ENC003", "encryption", "aes_keys_possibly_missing", "AES keys possibly missing", "warning",
            "the instance, once its tickets are AES only",
            "The password was last set before the domain could make AES keys (a heuristic: before the domain's "
            "Read-only Domain Controllers group was created), so the account may have RC4 keys only: AES tickets "
            "for it could not be decrypted by SQL Server.",
            "Reset the account's password (and give SQL Server the new one), then set its encryption types to AES.",
            "Set-ADAccountPassword -Reset (PowerShell); not in LDIF"),
    Finding("ENC004", "encryption", "computer_weak_encryption", "Computer account allows RC4 or DES", "info",
            "nothing yet: Kerberos once RC4 is disabled",
            "An instance running as a virtual or system account uses the host's computer account, whose "
            "encryption types Windows sets from the host's policy: it allows RC4 or DES.",
            "Configure 'Network security: Configure encryption types allowed for Kerberos' on the host (Group "
            "Policy) to AES; the collection does not write a computer's attribute.",
            "none: a Group Policy setting"),
    Finding("ENC005", "encryption", "rc4_allowed", "RC4 still allowed beside AES", "info",
            "nothing yet",
            "The account allows AES and RC4: clients that ask for RC4 still get RC4 tickets.",
            "Set the account's encryption types to AES only once no client needs RC4 (the site playbook does with "
            "sql_kerberos_encryption_types: aes, the default).",
            "Set-ADUser / Set-ADServiceAccount -KerberosEncryptionType (PowerShell); the attribute in LDIF"),
    Finding("EXP001", "exposure", "writable_by_others", "Others may take over the service account", "warning",
            "nothing yet: an attack path to the SQL Server and its users",
            "Principals beyond tier 0 may write the service account's servicePrincipalName (make it kerberoastable, "
            "or break Kerberos), its msDS-AllowedToActOnBehalfOfOtherIdentity (impersonate any user to the SQL "
            "Server), its msDS-KeyCredentialLink (log on as it), its userAccountControl, its DACL or owner. Account "
            "Operators' default full control counts.",
            "Remove those rights (explicit ACEs with dsacls /R; inherited ones where they are set), make Domain "
            "Admins the owner, and keep Account Operators empty. Declare the automation account "
            "(sql_kerberos_automation_accounts), whose rights are the permission model's.",
            "dsacls /R for explicit ACEs (PowerShell); not in LDIF"),
    Finding("EXP002", "exposure", "host_writable_by_others", "Others may take over the SQL host's computer object",
            "warning", "nothing yet: an attack path to the host and every instance on it",
            "Principals beyond tier 0 may write the host's computer object - its SPNs, its "
            "msDS-AllowedToActOnBehalfOfOtherIdentity (RBKCD to the host: impersonate any user to it), its "
            "msDS-KeyCredentialLink, userAccountControl, DACL or owner (a user who created or owns the object).",
            "Remove those rights and make Domain Admins the owner of the computer object.",
            "dsacls /R for explicit ACEs (PowerShell); not in LDIF"),
    Finding("EXP003", "exposure", "creator_recorded", "SQL host's computer object created by a user", "info",
            "nothing yet",
            "ms-DS-CreatorSID names the user who created the computer object (by ms-DS-MachineAccountQuota): "
            "that user may still control it, and the object is outside the admins' provisioning.",
            "Check the object's owner and ACEs (EXP002); re-create or re-own it under the admins' control.",
            "none"),
    Finding("EXP004", "exposure", "self_rbkcd", "Every account may set its own resource-based delegation", "info",
            "nothing alone: half of an RBKCD takeover",
            "An inheritable ACE at the domain root lets each account write its own "
            "msDS-AllowedToActOnBehalfOfOtherIdentity: whoever runs code as a service account (or controls a "
            "computer object) can let another account it controls impersonate any user to it.",
            "Accept it as Windows' default, or remove the SELF ACE for that attribute at the domain root after "
            "testing; watch the attribute's changes.",
            "none: a domain-wide decision"),
    Finding("EXP005", "exposure", "machine_account_quota", "Users may create computer accounts", "info",
            "nothing alone: the other half of an RBKCD takeover",
            "ms-DS-MachineAccountQuota above 0 lets any user create computer accounts: an account with an SPN under "
            "the attacker's control, which is what a resource-based constrained delegation attack needs.",
            "Set ms-DS-MachineAccountQuota to 0 and delegate joining computers to a group on the computers' OU.",
            "Set-ADDomain -Replace @{'ms-DS-MachineAccountQuota'=0} (PowerShell)"),
    Finding("KDC001", "kdc", "ticket_refused", "The KDC refuses a ticket for the SPN", "error",
            "Kerberos logins: Cannot generate SSPI context, or NTLM",
            "Asked from the controller as a client asks, the KDC issued no service ticket for the SPN (unknown "
            "principal: no account holds it, or more than one does): clients get " + _SSPI + ".",
            "Register the SPN on the instance's service account only (the SPN findings of the same instance say "
            "where it is), then probe again.",
            "setspn -S / setspn -D (PowerShell), in the SPN findings; the probe itself writes nothing"),
    Finding("KDC002", "kdc", "key_version_mismatch", "Ticket key version differs from the directory's", "warning",
            "Kerberos logins to the instance, when the service's keys are older than the KDC's",
            "The ticket's key version is not the holder's msDS-KeyVersionNumber: the KDC and the directory the "
            "report read disagree about the account's keys (replication not converged, or a password changed "
            "moments ago); a service still holding the old key cannot decrypt the ticket.",
            "Let replication converge and probe again; if it persists, reset the account's password on one DC and "
            "give SQL Server the new one.",
            "repadmin /syncall (PowerShell); not in LDIF"),
    Finding("KDC003", "kdc", "rc4_ticket", "The KDC issues an RC4 ticket", "warning",
            "nothing yet: Kerberos once RC4 is disabled, and the account's password sooner",
            "The KDC encrypted the service ticket with RC4 - what the encryption-type checks predict, confirmed "
            "by the KDC.",
            "Set the holder's encryption types to AES (ENC001; the site playbook does), then probe again.",
            "Set-ADUser -KerberosEncryptionType (PowerShell), in the encryption findings"),
    Finding("KDC004", "kdc_clock", "clock_skew", "Controller and DC clocks differ beyond Kerberos' tolerance", "error",
            "Kerberos from the controller, and a sign of time sync trouble in the estate",
            "The controller's clock differs from the DC's (rootDSE currentTime) by more than the tolerance (5 "
            "minutes by default): the KDC refuses requests with KRB_AP_ERR_SKEW, and hosts synchronised the same "
            "way fail the same.",
            "Synchronise the controller (and the hosts) with the domain's time source (NTP, w32time).",
            "none: a time-synchronisation setting"),
    Finding("PRT001", "static_port", "dynamic_port", "No static TCP port", "error",
            "port SPNs: Kerberos for connections by port",
            "The port changes at restart: a port SPN cannot be registered, clients depend on SQL Browser, and "
            "connections by port fail Kerberos with " + _SSPI + ".",
            "Choose a static TCP port, set it in the inventory, and let the site playbook pin it.",
            "none: choose the port in the inventory"),
    Finding("PRT002", "static_port", "port_not_static", "Instance not pinned to its port", "error",
            "connections to the inventory's port",
            "The instance listens on another port than its SPNs name: clients connecting by the inventory's port "
            "fail, or get " + _SSPI + ".",
            "Pin the TCP port (TCP Port set, dynamic ports cleared) and restart the instance.",
            "Set-ItemProperty and Restart-Service (Windows), mssql-conf set network.tcpport (Linux); in the report"),
    Finding("PRT003", "static_port", "restart_required", "Port pinned, restart pending", "warning",
            "the new port, until the restart",
            "The setting is right but the running instance still listens on the old port until it restarts.",
            "Restart the instance in a maintenance window.",
            "Restart-Service (Windows), systemctl restart mssql-server (Linux); in the report"),
    Finding("TCP001", "tcp_enabled", "tcp_disabled", "TCP/IP disabled", "warning",
            "connections over TCP",
            "Clients fall back to named pipes or shared memory, where the port SPNs do not apply; remote "
            "clients over TCP cannot connect.",
            "Enable TCP/IP in SQL Server Configuration Manager if clients connect over TCP, then set "
            "tcp_enabled: true and a static port in the inventory.",
            "none: a host setting"),
)
# IDs that were once in the catalogue: never to be given to another check.
RETIRED_IDS = ()

_BY_STATUS = {(finding.check, finding.status): finding for finding in CATALOGUE}
_BY_ID = {finding.id: finding for finding in CATALOGUE}


def finding_for(check, status):
    """The catalogue entry of a check's status, or None for ok and skipped."""
    return _BY_STATUS.get((check, status))


def finding_by_id(finding_id):
    return _BY_ID.get((finding_id or "").upper())


# -- accepted risks: waivers and severity overrides ---------------------------

WAIVER_KEYS = ("id", "subject", "reason", "expires", "approved_by", "ticket")


@dataclass(frozen=True)
class Waiver:
    id: str
    subject: str
    reason: str
    expires: datetime.date
    approved_by: str | None = None
    ticket: str | None = None

    def matches(self, check):
        return check.get("id") == self.id and (check.get("subject") or "").lower() == self.subject.lower()

    def summary(self):
        return dict(id=self.id, subject=self.subject, reason=self.reason, expires=self.expires.isoformat(),
                    approved_by=self.approved_by, ticket=self.ticket)


def parse_waivers(items):
    """Waivers from the inventory's list; raises CatalogueError naming every
    item that cannot be one (an unknown ID, no reason, a date that is not
    YYYY-MM-DD, an unknown key)."""
    waivers, problems = [], []
    for number, item in enumerate(items or [], start=1):
        where = "waiver %d" % number
        if not isinstance(item, dict):
            problems.append("%s is not a dict with id, subject, reason and expires" % where)
            continue
        unknown = sorted(set(item) - set(WAIVER_KEYS))
        missing = [key for key in ("id", "subject", "reason", "expires") if not item.get(key)]
        if unknown:
            problems.append("%s has unknown keys %s (allowed: %s)" % (where, ", ".join(unknown), ", ".join(WAIVER_KEYS)))
        if missing:
            problems.append("%s lacks %s" % (where, ", ".join(missing)))
        if unknown or missing:
            continue
        finding = finding_by_id(str(item["id"]))
        if finding is None:
            problems.append("%s names no check of the catalogue: %r (IDs such as SPN001; see the list of checks)"
                            % (where, item["id"]))
            continue
        try:
            expires = item["expires"] if isinstance(item["expires"], datetime.date) else \
                datetime.date.fromisoformat(str(item["expires"]))
        except ValueError:
            problems.append("%s: expires %r is not a date as YYYY-MM-DD" % (where, item["expires"]))
            continue
        waivers.append(Waiver(finding.id, str(item["subject"]), str(item["reason"]), expires,
                              item.get("approved_by"), item.get("ticket")))
    if problems:
        raise CatalogueError("; ".join(problems))
    return waivers


def parse_severity_overrides(overrides):
    """{ID: severity} from the inventory; raises CatalogueError for an
    unknown ID or severity."""
    parsed, problems = {}, []
    for finding_id, severity in (overrides or {}).items():
        finding = finding_by_id(str(finding_id))
        if finding is None:
            problems.append("severity override for %r: no such check" % finding_id)
        elif severity not in SEVERITIES:
            problems.append("severity override for %s: %r is not one of %s"
                            % (finding.id, severity, ", ".join(SEVERITIES)))
        else:
            parsed[finding.id] = severity
    if problems:
        raise CatalogueError("; ".join(problems))
    return parsed


def at_least(severity, threshold):
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def classify(checks, waivers, overrides, today):
    """Give each finding its ID, title, severity (overridden where the
    inventory says) and symptom; mark waived findings (result waived, with
    the waiver). Returns (active waivers that matched, expired waivers that
    matched, waivers that matched nothing)."""
    matched = set()
    expired = []
    for check in checks:
        finding = finding_for(check["check"], check["status"])
        if finding is None:
            continue
        check.update(id=finding.id, title=finding.title, severity=finding.severity, breaks=finding.breaks,
                     symptom=finding.symptom)
        if finding.id in overrides and overrides[finding.id] != finding.severity:
            check.update(severity=overrides[finding.id], severity_overridden_from=finding.severity)
        for waiver in waivers:
            if not waiver.matches(check):
                continue
            matched.add(waiver)
            if waiver.expires < today:
                check["waiver_expired"] = waiver.summary()
                if waiver not in expired:
                    expired.append(waiver)
            else:
                check.update(result="waived", waiver=waiver.summary())
            break
    active = [w for w in waivers if w in matched and w not in expired]
    return active, expired, [w for w in waivers if w not in matched]
