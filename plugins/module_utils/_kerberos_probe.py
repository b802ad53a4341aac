# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kerberos_probe: the KDC's verdict for every SPN an estate needs, asked
from the controller as a SQL Server client asks it.

For each required SPN (the instances' SPNs as spn_facts computes them) one
service ticket is requested through GSS-API (python-gssapi, MIT krb5): the
KDC issues it or refuses it, and the probe reports the refusal in words,
the ticket's encryption type and key version (read from the AP-REQ the
client would send, _kerberos_token.py), the holder's msDS-KeyVersionNumber
(a mismatch: the KDC and the directory disagree about the account's keys)
and the ticket's OK-AS-DELEGATE flag (the KDC marks tickets to accounts
trusted for unconstrained delegation). The controller's clock is compared
with the DC's (rootDSE currentTime): Kerberos tolerates 5 minutes.

Credentials: the operator's ticket cache, a keytab or a password; the
tickets are kept in a private in-memory cache (MEMORY:), never in the
operator's cache. AES session keys only by default: a request offering RC4
is what kerberoasting detections look for. The ticket's own encryption is
the service account's, so an RC4 ticket is still reported. A rate limit
spaces the requests: thousands of ticket requests look like kerberoasting
to a SIEM all the same, so tell its owners before a first run.

Read-only in any mode: it writes nothing to the directory."""
from __future__ import annotations

import datetime
import sys
import time
import uuid
from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ad_time import generalized_time, iso
from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_token import TokenError, ticket_info
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import spn_key
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_audit import (
    find_spn_holders,
    prepare_audit,
    validate_fact_name,
)
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import SPN_FORMS

# RFC 4120 TicketFlags bit 13, as krb5_flags holds it.
OK_AS_DELEGATE = 0x00040000
# GSS_KRB5_GET_TKT_FLAGS_OID (MIT): the ticket flags of an established context.
GET_TKT_FLAGS_OID = "1.2.840.113554.1.2.2.5.1"
AES_ENCTYPES = (18, 17)
# KDC_ERR_ETYPE_NOSUPP: with AES session keys only, the answer for an account that allows RC4 only.
ETYPE_NOT_SUPPORTED = 14
DEFAULT_MAX_CLOCK_SKEW = 300
# MIT's com_err codes of KDC protocol errors are this base plus the RFC 4120 code.
_KRB5_ERROR_BASE = -1765328384
# RFC 4120 7.5.9 codes the KDC answers about one SPN, in words.
_KDC_ERRORS = {
    7: ("unknown_principal", "no account holds this SPN for the KDC (missing, or held by more than one account)"),
    9: ("not_unique", "more than one account holds this SPN"),
    12: ("policy", "the KDC's policy refuses a ticket for it"),
    14: ("etype_not_supported", "the account has no key of an encryption type the request allows"),
    20: ("service_revoked", "the account holding the SPN is locked out, disabled or expired"),
}
# Codes about the prober's own credentials or clock, whatever the SPN: the run
# stops with them rather than blame every SPN.
_CLIENT_ERRORS = {
    6: "the client's principal is unknown to the KDC",
    18: "the client's credentials have been revoked (its account disabled, locked out or expired)",
    23: "the client's password has expired",
    24: "pre-authentication failed (a wrong password or key)",
    32: "the client's ticket has expired: kinit again",
    37: "the clocks of the controller and the KDC differ too much",
}


class ProbeError(SqlAuthError):
    """The probe cannot run: no credentials, an unreadable keytab, a KDC
    that cannot be reached, python-gssapi missing."""


class TicketRefused(Exception):
    """The KDC refused the ticket for one SPN: ``code`` (RFC 4120), its
    name and words."""

    def __init__(self, code, name, words, message):
        super().__init__(message)
        self.code, self.name, self.words = code, name, words


def kdc_error(minor_code):
    """The RFC 4120 error code behind an MIT minor status, or None when the
    failure is not the KDC's answer (the KDC unreachable, no credentials)."""
    signed = minor_code - (1 << 32) if minor_code >= (1 << 31) else minor_code
    code = signed - _KRB5_ERROR_BASE
    return code if 0 < code < 128 else None


def validate_kerberos_probe(params):
    """The module's input, checked before anything connects."""
    problems = []
    if params.get("kerberos_password") is not None and params.get("kerberos_keytab"):
        problems.append("give kerberos_password or kerberos_keytab, not both")
    if (params.get("kerberos_password") is not None or params.get("kerberos_keytab")) and \
            not params.get("kerberos_principal"):
        problems.append("kerberos_principal is needed with kerberos_password or kerberos_keytab (the Kerberos name "
                        "to log on as, e.g. sqlprobe@CORP.EXAMPLE.COM)")
    if params.get("rate_limit") is not None and params["rate_limit"] < 0:
        problems.append("rate_limit must be 0 (no limit) or more tickets per second, got %s" % params["rate_limit"])
    if problems:
        raise ProbeError("; ".join(problems))
    # Bad instances raise the same errors as in spn_facts.
    fact_name = validate_fact_name(params.get("fact_name"))
    prepared = prepare_audit(params.get("instances") or [], params.get("name_resolution"))
    if not prepared:
        raise ProbeError("instances is empty")
    return dict(prepared=prepared, forms=params.get("spn_forms") or SPN_FORMS, principal=params.get("kerberos_principal"),
                password=params.get("kerberos_password"), keytab=params.get("kerberos_keytab"),
                ccache=params.get("kerberos_ccache"),
                aes_only=params.get("aes_only", True), rate_limit=params.get("rate_limit") or 0,
                max_clock_skew=params.get("max_clock_skew") or DEFAULT_MAX_CLOCK_SKEW, fact_name=fact_name)


class GssKerberos:
    """The controller's Kerberos client (python-gssapi over MIT krb5), its
    credentials copied into a private MEMORY: cache first."""

    def __init__(self, realm, principal=None, password=None, keytab=None, ccache=None, aes_only=True):
        try:
            import gssapi
            from gssapi.raw import acquire_cred_with_password, krb5_set_allowable_enctypes
            from gssapi.raw import inquire_sec_context_by_oid
            from gssapi.raw.oids import OID
        except ImportError as error:
            raise ProbeError("python-gssapi is needed on the controller for the KDC probe (%s)" % error) from None
        self._gssapi, self._inquire, self._oid = gssapi, inquire_sec_context_by_oid, OID
        self.realm = realm
        memory = "MEMORY:sqlauth-probe-%s" % uuid.uuid4().hex
        source = ("the password of %s" % principal if password is not None else "the keytab %s" % keytab if keytab
                  else "the ticket cache %s" % (ccache or "(default)"))
        try:
            if password is not None:
                name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
                creds = gssapi.Credentials(base=acquire_cred_with_password(name, password.encode("utf-8"),
                                                                           usage="initiate").creds)
            elif keytab:
                name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
                creds = gssapi.Credentials(name=name, usage="initiate",
                                           store={"client_keytab": keytab, "ccache": memory})
                # Acquiring from a keytab is lazy: ask for the TGT now, so a bad keytab fails here.
                creds.inquire()
            else:
                operator = gssapi.Credentials(usage="initiate", store={"ccache": ccache} if ccache else None)
                # A copy: the service tickets asked for land in the private cache, not the operator's.
                operator.store(store={"ccache": memory}, usage="initiate", overwrite=True)
                creds = gssapi.Credentials(usage="initiate", store={"ccache": memory})
            self.client = str(creds.name)
        except gssapi.exceptions.GSSError as error:
            raise ProbeError("no Kerberos credentials from %s: %s (run kinit, or give the probe a keytab or a "
                             "password)" % (source, _gss_words(error))) from None
        if aes_only:
            krb5_set_allowable_enctypes(creds, list(AES_ENCTYPES))
        self._creds = creds

    def ticket(self, spn):
        """(TicketInfo, ticket flags) of a service ticket for ``spn``;
        raises TicketRefused with the KDC's reason, ProbeError when the KDC
        cannot be asked at all."""
        gssapi = self._gssapi
        target = gssapi.Name("%s@%s" % (spn, self.realm), gssapi.NameType.kerberos_principal)
        try:
            # Without mutual authentication the context is complete after the
            # first token, and MIT then tells the ticket's flags.
            context = gssapi.SecurityContext(name=target, creds=self._creds, usage="initiate",
                                             flags=[gssapi.RequirementFlag.integrity])
            token = context.step()
        except gssapi.exceptions.GSSError as error:
            code = kdc_error(error.min_code)
            if code is None or code in _CLIENT_ERRORS:
                raise ProbeError("asking the KDC of %s for a ticket to %s failed: %s%s" % (
                    self.realm, spn, _gss_words(error), " (%s)" % _CLIENT_ERRORS[code] if code else "")) from None
            name, words = _KDC_ERRORS.get(code, ("kdc_error_%d" % code, "the KDC refused it"))
            raise TicketRefused(code, name, words, _gss_words(error)) from None
        try:
            flags = self._inquire(context, self._oid.from_int_seq(GET_TKT_FLAGS_OID))
        except gssapi.exceptions.GSSError:
            flags = None  # a GSS library without the extension: the flag is then unknown
        return ticket_info(token), int.from_bytes(flags[0], sys.byteorder) if flags else None


def _gss_words(error):
    """The most useful part of a GSSError: its minor message, else the whole."""
    text = error.gen_message() if hasattr(error, "gen_message") else str(error)
    return text.rsplit("Minor (", 1)[-1].split("): ", 1)[-1].strip() if "Minor (" in text else text


@dataclass
class Pacer:
    """At most ``rate`` requests per second (0: no limit), with the clock
    and the sleep given (tests pass their own)."""

    rate: float
    now: object = time.monotonic
    sleep: object = time.sleep
    _next: float = 0.0

    def wait(self):
        if not self.rate:
            return
        moment = self.now()
        if moment < self._next:
            self.sleep(self._next - moment)
            moment = self._next
        self._next = moment + 1.0 / self.rate


def clock_check(dc_time, controller_time, max_skew=DEFAULT_MAX_CLOCK_SKEW):
    """The controller's clock against the DC's: dict(dc, controller,
    skew_seconds, max_skew, ok). ``dc_time`` is the rootDSE currentTime
    (GeneralizedTime), ``controller_time`` the controller's epoch seconds
    when it was read; ok is None when the DC gave no time."""
    dc = generalized_time(dc_time)
    controller = datetime.datetime.fromtimestamp(controller_time, datetime.timezone.utc)
    if dc is None:
        return dict(dc=None, controller=iso(controller), skew_seconds=None, max_skew=max_skew, ok=None)
    skew = (controller - dc).total_seconds()
    return dict(dc=iso(dc), controller=iso(controller), skew_seconds=round(skew, 1), max_skew=max_skew,
                ok=abs(skew) <= max_skew)


def ticket_row(spn, instances, holders, outcome, aes_only=True):
    """The report of one SPN: ``outcome`` is (TicketInfo, flags) or a
    TicketRefused; ``holders`` the accounts the directory says hold it;
    ``aes_only`` whether the request offered AES session keys only."""
    row = dict(spn=spn, instances=instances, holders=[h.name for h in holders], issued=False, error=None,
               enctype=None, rc4=None, ticket_kvno=None, directory_kvno=None, key_version_match=None,
               ok_as_delegate=None)
    if isinstance(outcome, TicketRefused):
        row.update(error=dict(code=outcome.code, name=outcome.name, words=outcome.words, kdc=str(outcome)))
        if outcome.code == ETYPE_NOT_SUPPORTED and aes_only:
            # Asked for AES session keys only: the account allows no AES (RC4
            # only, seen on the lab KDC). A client offering RC4 gets an RC4 ticket.
            row["rc4"] = True
    else:
        info, flags = outcome
        row.update(issued=True, enctype=info.enctype_name, rc4=info.is_rc4, ticket_kvno=info.kvno,
                   ok_as_delegate=bool(flags & OK_AS_DELEGATE) if flags is not None else None)
        if len(holders) == 1 and holders[0].key_version_number is not None:
            row["directory_kvno"] = holders[0].key_version_number
            if info.kvno is not None:
                row["key_version_match"] = info.kvno == holders[0].key_version_number
    row["status"] = ("rc4" if row["rc4"] else "refused" if not row["issued"] else "key_version_mismatch"
                     if row["key_version_match"] is False else "ok")
    return row


def kerberos_probe(client, request, check_mode=False, kerberos=None, clock=time.time, pacer=None):
    """Ask the KDC for a ticket to every required SPN of the instances.
    ``kerberos`` (a GssKerberos or a stand-in), ``clock`` and ``pacer``
    are for tests."""
    realm = (client.own_domain().get("dns") or "").upper()
    if not realm:
        raise ProbeError("the realm of %s is unknown: its domain has no DNS name in the directory"
                         % client.default_naming_context)
    # The controller's time when the DC's was read, by ``clock`` (shifted in tests).
    read_at = getattr(client, "dc_time_read_at", None) or time.time()
    clock_state = clock_check(getattr(client, "dc_current_time", None), read_at + (clock() - time.time()),
                              request["max_clock_skew"])
    wanted = {}
    for instance, _reference in request["prepared"]:
        for required in instance.required_spns(request["forms"]):
            wanted.setdefault(spn_key(required.spn), (required.spn, []))[1].append(instance.name)
    # The domain's partition, not the Global Catalog: msDS-KeyVersionNumber is
    # not in the Global Catalog, and the KDC's answer itself tells duplicates.
    holders, _scope = find_spn_holders(client, [spn for spn, _names in wanted.values()], forest=False)
    if kerberos is None:
        kerberos = GssKerberos(realm, request["principal"], request["password"], request["keytab"],
                               request["ccache"], request["aes_only"])
    pacer = pacer or Pacer(request["rate_limit"])
    started = time.monotonic()
    rows = []
    for key in sorted(wanted):
        spn, names = wanted[key]
        pacer.wait()
        try:
            outcome = kerberos.ticket(spn)
        except TicketRefused as refused:
            outcome = refused
        except TokenError as error:
            raise ProbeError("the ticket for %s cannot be read: %s" % (spn, error)) from None
        rows.append(ticket_row(spn, names, holders.get(key, []), outcome, request["aes_only"]))
    seconds = time.monotonic() - started
    summary = dict(requested=len(rows), issued=sum(r["issued"] for r in rows),
                   refused=sum(r["status"] == "refused" for r in rows), rc4=sum(bool(r["rc4"]) for r in rows),
                   key_version_mismatch=sum(r["key_version_match"] is False for r in rows),
                   ok_as_delegate=sum(bool(r["ok_as_delegate"]) for r in rows), seconds=round(seconds, 2),
                   tickets_per_second=round(len(rows) / seconds, 1) if seconds else None)
    result = dict(realm=realm, client=getattr(kerberos, "client", None), clock=clock_state, tickets=rows,
                  summary=summary, aes_only=request["aes_only"])
    # As spn_facts: with fact_name, the result is that fact only (a large estate's is encoded once).
    if request.get("fact_name"):
        return dict(changed=False, summary=summary, clock=clock_state, ansible_facts={request["fact_name"]: result})
    return dict(result, changed=False)
