# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LDAP connection to Active Directory shared by every LDAP module.

Options follow microsoft.ad's names; their documentation is the
``sqlauth.kerberos.ldap_connection`` doc fragment. Binds always run over TLS
(LDAPS or StartTLS): simple binds must not send a password in clear, and
ldap3 cannot sign or seal a Kerberos bind on plain LDAP.
"""
from __future__ import annotations

import re
import ssl
import time
import traceback

from ansible.module_utils.basic import env_fallback

try:
    import ldap3
    from ldap3.core import exceptions as ldap3_exceptions
    from ldap3.protocol.microsoft import security_descriptor_control
except ImportError:
    LDAP3_IMPORT_ERROR = traceback.format_exc()
    ldap3 = ldap3_exceptions = security_descriptor_control = None
else:
    LDAP3_IMPORT_ERROR = None

LDAP_CONNECTION_ARGUMENT_SPEC = dict(
    server=dict(type="str", fallback=(env_fallback, ["SQLAUTH_LDAP_SERVER"])),
    port=dict(type="int", fallback=(env_fallback, ["SQLAUTH_LDAP_PORT"])),
    tls_mode=dict(type="str", choices=["ldaps", "start_tls"], default="ldaps",
                  fallback=(env_fallback, ["SQLAUTH_LDAP_TLS_MODE"])),
    auth_protocol=dict(type="str", choices=["simple", "kerberos"],
                       fallback=(env_fallback, ["SQLAUTH_LDAP_AUTH_PROTOCOL"])),
    username=dict(type="str", fallback=(env_fallback, ["SQLAUTH_LDAP_USERNAME"])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, ["SQLAUTH_LDAP_PASSWORD"])),
    cert_validation=dict(type="str", choices=["always", "ignore", "ignore_hostname"], default="always",
                         fallback=(env_fallback, ["SQLAUTH_LDAP_CERT_VALIDATION"])),
    ca_cert=dict(type="path", fallback=(env_fallback, ["SQLAUTH_LDAP_CA_CERT"])),
    connection_timeout=dict(type="int", default=10, fallback=(env_fallback, ["SQLAUTH_LDAP_CONNECTION_TIMEOUT"])),
    operation_timeout=dict(type="int", default=30, fallback=(env_fallback, ["SQLAUTH_LDAP_OPERATION_TIMEOUT"])),
    ambiguous_names=dict(type="str", choices=["warn", "fail"], default="warn",
                         fallback=(env_fallback, ["SQLAUTH_AMBIGUOUS_NAMES"])),
)

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._permissions import refused_write_hint

PAGE_SIZE = 1000  # AD's default MaxPageSize
_DEFAULT_PORTS = {"ldaps": 636, "start_tls": 389}
_GLOBAL_CATALOG_PORTS = {"ldaps": 3269, "start_tls": 3268}
_PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
_OWNER_SECURITY_INFORMATION = 0x1
_DACL_SECURITY_INFORMATION = 0x4


class LdapError(SqlAuthError):
    """A connection, bind or directory operation that failed; the message
    says what went wrong in terms an AD administrator can act on. ``result``
    is the LDAP result name (e.g. constraintViolation) when the DC answered,
    None when it did not (connection lost, timeout)."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result
        self.uncertain = False  # a modify whose answer was lost: it may have been applied


class DirectoryEntry:
    """One search result with its raw attribute values (lower-case names)."""

    def __init__(self, dn, raw_attributes):
        self.dn = dn
        self.raw = {name.lower(): values for name, values in raw_attributes.items()}

    def values(self, name):
        return [value.decode("utf-8") for value in self.raw.get(name.lower(), [])]

    def value(self, name):
        values = self.values(name)
        return values[0] if values else None

    def binary(self, name):
        values = self.raw.get(name.lower(), [])
        return bytes(values[0]) if values else None


class DirectoryClient:
    """An authenticated connection to one domain controller, and on demand to
    the Global Catalog on the same host for forest-wide searches."""

    def __init__(self, options):
        self.options = dict(options)
        for name in ("connection_timeout", "operation_timeout"):
            if not 1 <= (self.options.get(name) or 0) <= 3600:
                raise LdapError("%s must be between 1 and 3600 seconds, got %r" % (name, self.options.get(name)))
        if LDAP3_IMPORT_ERROR:
            raise LdapError("the ldap3 Python package is required on the controller")
        if not self.options.get("server"):
            raise LdapError("no LDAP server given: set 'server' (or SQLAUTH_LDAP_SERVER) to a domain controller's DNS name")
        self.tls_mode = self.options["tls_mode"]
        self.auth_protocol = self.options.get("auth_protocol") or (
            "simple" if self.options.get("password") else "kerberos")
        if self.auth_protocol == "simple" and not (self.options.get("username") and self.options.get("password")):
            raise LdapError("auth_protocol=simple needs both username and password")
        self.operation_timeout = self.options["operation_timeout"]
        self.round_trips = 0
        self.binds = 0
        # Notes for the module's output (e.g. an ambiguous account name), said once each.
        self.warnings = []
        # Learnt at the first descriptor write: this DC cannot delete a descriptor value (Samba).
        self.descriptor_delete_refused = False
        self._connection = self._open(self.options["server"], self.options.get("port") or _DEFAULT_PORTS[self.tls_mode])
        self._global_catalog = None
        root = self.search("", "(objectClass=*)", ["defaultNamingContext", "rootDomainNamingContext",
                                                   "configurationNamingContext", "dnsHostName",
                                                   "isGlobalCatalogReady", "highestCommittedUSN", "currentTime"],
                           scope="base", paged=False)[0]
        # The DC's clock (GeneralizedTime) and the controller's when it arrived: their skew.
        self.dc_current_time, self.dc_time_read_at = root.value("currentTime"), time.time()
        self.default_naming_context = root.value("defaultNamingContext")
        self.root_domain_naming_context = root.value("rootDomainNamingContext")
        self.configuration_naming_context = root.value("configurationNamingContext")
        self.dns_host_name = root.value("dnsHostName") or self.options["server"]
        self.is_global_catalog = (root.value("isGlobalCatalogReady") or "").upper() == "TRUE"
        self._domains = None

    # -- connection ---------------------------------------------------------

    def _open(self, host, port):
        options = self.options
        where = "%s:%d" % (host, port)
        tls = ldap3.Tls(
            validate=ssl.CERT_NONE if options["cert_validation"] == "ignore" else ssl.CERT_REQUIRED,
            ca_certs_file=options.get("ca_cert"),
            # ldap3 checks the name itself; '*' is its way to skip only that check.
            valid_names=["*"] if options["cert_validation"] == "ignore_hostname" else None,
        )
        # connection_timeout bounds the TCP connect, then each wait of the TLS
        # handshake and the bind; operation_timeout each later operation.
        server = ldap3.Server(host, port=port, use_ssl=self.tls_mode == "ldaps", tls=tls,
                              get_info=ldap3.NONE, connect_timeout=options["connection_timeout"])
        # auto_range: values beyond the DC's MaxValRange (a group's member list over 1,500) are read to the end.
        kwargs = dict(receive_timeout=options["connection_timeout"], raise_exceptions=True,
                      auto_referrals=False, read_only=False, auto_range=True)
        if self.auth_protocol == "simple":
            kwargs.update(user=options["username"], password=options["password"], authentication=ldap3.SIMPLE)
        else:
            kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS,
                          sasl_credentials=(None, None, self._kerberos_credentials()))
        connection = ldap3.Connection(server, **kwargs)
        started = time.monotonic()
        try:
            connection.open()
            if self.tls_mode == "start_tls":
                connection.start_tls()
            connection.bind()
            self.binds += 1
            connection.socket.settimeout(self.operation_timeout)
        except ldap3_exceptions.LDAPInvalidCredentialsResult:
            raise LdapError("bind to %s as %r failed: invalid credentials (wrong user name or password)"
                            % (where, options.get("username"))) from None
        except ldap3_exceptions.LDAPStrongerAuthRequiredResult as error:
            raise LdapError("bind to %s refused: %s (the DC requires TLS or signing)" % (where, error)) from None
        except ldap3_exceptions.LDAPCertificateError as error:
            raise LdapError(
                "the TLS certificate of %s does not name %r (%s); connect by the name in the certificate, or "
                "set cert_validation=ignore_hostname" % (where, host, _first_line(error))) from None
        except ldap3_exceptions.LDAPException as error:
            raise LdapError(_explain_connection_error(where, error, options, time.monotonic() - started)) from None
        except Exception as error:  # gssapi raises its own error types
            raise LdapError("Kerberos bind to %s failed: %s" % (where, _first_line(error))) from None
        return connection

    def _kerberos_credentials(self):
        """None to use the ticket cache; with a password, fresh credentials
        obtained in memory for each connection (the cache is never touched;
        ldap3 releases the credentials it was given once it has bound)."""
        if not self.options.get("password"):
            return None
        try:
            import gssapi
            name = gssapi.Name(self.options["username"], gssapi.NameType.user)
            return gssapi.raw.acquire_cred_with_password(
                name, self.options["password"].encode("utf-8"), usage="initiate").creds
        except ImportError:
            raise LdapError("auth_protocol=kerberos needs the gssapi Python package on the controller") from None
        except Exception as error:
            raise LdapError("Kerberos login as %r failed: %s" % (self.options["username"], _first_line(error))) from None

    def global_catalog(self):
        """A connection to the Global Catalog on the same DC, or None when
        that DC is not a Global Catalog.

        In a forest of one domain, that domain's partition holds every
        account the Global Catalog would return: the open connection serves
        forest-wide searches (``search`` bases them on the domain) and no
        second connection and bind is made (bench/README.md measured it)."""
        if not self.is_global_catalog:
            return None
        if self._global_catalog is None:
            if len(self.domains()) == 1:
                self._global_catalog = self._connection
            else:
                self._global_catalog = self._open(self.dns_host_name, _GLOBAL_CATALOG_PORTS[self.tls_mode])
        return self._global_catalog

    def close(self):
        connections = [self._connection]
        # The Global Catalog may be the domain connection itself (see above).
        if self._global_catalog is not None and self._global_catalog is not self._connection:
            connections.append(self._global_catalog)
        for connection in connections:
            try:
                connection.unbind()
            except Exception:  # closing is best effort
                pass

    # -- operations ---------------------------------------------------------

    def search(self, base, ldap_filter, attributes, scope="subtree", controls=None, paged=True,
               global_catalog=False):
        """Run one search, following the paged-results cookie; each page is
        one round trip. Returns DirectoryEntry objects."""
        connection = self.global_catalog() if global_catalog else self._connection
        if global_catalog and connection is self._connection and base == "":
            base = self.default_naming_context  # the forest's only domain (see global_catalog)
        scope = {"base": ldap3.BASE, "one": ldap3.LEVEL, "subtree": ldap3.SUBTREE}[scope]
        entries = []
        cookie = None
        while True:
            started = time.monotonic()
            try:
                connection.search(base, ldap_filter, scope, attributes=attributes, controls=controls,
                                  paged_size=PAGE_SIZE if paged else None, paged_cookie=cookie)
            except ldap3_exceptions.LDAPNoSuchObjectResult:
                return entries
            except ldap3_exceptions.LDAPOperationResult as error:
                raise LdapError("LDAP search under %r failed: %s" % (base, _first_line(error)),
                                result=error.description) from None
            except ldap3_exceptions.LDAPException as error:
                raise LdapError(self._lost("searching under %r" % base, error, started)) from None
            self.round_trips += 1
            entries.extend(DirectoryEntry(item["dn"], item["raw_attributes"])
                           for item in connection.response if item.get("type") == "searchResEntry")
            cookie = (connection.result.get("controls") or {}).get(_PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
            if not paged or not cookie:
                return entries

    def modify(self, dn, changes, controls=None):
        """Apply one modify operation (all changes atomically). A DC's
        refusal carries its result name; a lost connection or timeout has
        none, and the change may or may not have been applied."""
        started = time.monotonic()
        try:
            self._connection.modify(dn, changes, controls=controls)
        except ldap3_exceptions.LDAPOperationResult as error:
            message = "modifying %s failed: %s: %s" % (dn, error.description, (error.message or "").strip())
            if error.description == "insufficientAccessRights":
                message += ". The account bound (%s) may not write %s of %s%s" % (
                    self.options.get("username") or "the Kerberos ticket's", ", ".join(changes), dn,
                    refused_write_hint(changes))
            raise LdapError(message, result=error.description) from None
        except ldap3_exceptions.LDAPException as error:
            lost = LdapError(self._lost("modifying %s" % dn, error, started) + " (the DC may or may not have applied it)")
            lost.uncertain = True
            raise lost from None
        finally:
            self.round_trips += 1

    def _lost(self, what, error, started):
        """The message for an operation that got no answer."""
        waited = time.monotonic() - started
        where = self.options["server"]
        if _is_timeout(error):
            return ("the DC %s did not answer within %ds (operation_timeout) while %s; waited %.1fs (is it hung or "
                    "overloaded?)" % (where, self.operation_timeout, what, waited))
        return "the connection to the DC %s was lost while %s: %s" % (where, what, _first_line(error))

    @staticmethod
    def owner_and_dacl_controls():
        """Controls to read the owner and the DACL of nTSecurityDescriptor
        (the exposure audit: the owner may always rewrite the DACL)."""
        return security_descriptor_control(sdflags=_OWNER_SECURITY_INFORMATION | _DACL_SECURITY_INFORMATION)

    @staticmethod
    def dacl_controls():
        """Controls to read or write only the DACL of nTSecurityDescriptor;
        reading the SACL needs privileges an auditor should not need."""
        return security_descriptor_control(sdflags=_DACL_SECURITY_INFORMATION)

    def domains(self):
        """Domains of the forest: list of dicts with dn, netbios, dns."""
        if self._domains is None:
            entries = self.search("CN=Partitions,%s" % self.configuration_naming_context,
                                  "(&(objectClass=crossRef)(nETBIOSName=*))", ["nETBIOSName", "nCName", "dnsRoot"],
                                  scope="one")
            self._domains = [dict(dn=entry.value("nCName"), netbios=entry.value("nETBIOSName"),
                                  dns=(entry.value("dnsRoot") or "").lower()) for entry in entries]
        return self._domains

    def domain_of(self, dn):
        """The forest domain holding ``dn`` (longest matching suffix)."""
        return domain_of_dn(self.domains(), dn)

    def global_catalog_is_domain(self):
        """Whether forest-wide searches go to this domain's own partition (a
        forest of one domain, see global_catalog)."""
        return self.global_catalog() is self._connection

    def own_domain(self):
        return self.domain_of(self.default_naming_context) or dict(
            dn=self.default_naming_context, netbios=None, dns=None)


def domain_of_dn(domains, dn):
    """The domain among ``domains`` (LdapClient.domains' dicts) holding
    ``dn``: the longest matching suffix; None when none does."""
    folded = dn.lower()
    matches = [d for d in domains if folded.endswith(d["dn"].lower())]
    return max(matches, key=lambda d: len(d["dn"])) if matches else None


# What a connection closed or reset by the far end says (ssl, socket, ldap3).
_CLOSED = ("eof", "has been closed", "connection reset", "broken pipe", "socket is not open", "session terminated")


def _first_line(error):
    """The first line of an error's text, without the tuple reprs ldap3
    wraps around the underlying error ("('socket ... error',)")."""
    text = str(error).strip() or type(error).__name__
    text = text.splitlines()[0]
    while True:
        wrapped = re.match(r"""^\(\s*(['"])(.*)\1\s*,?\s*\)$""", text)
        if not wrapped:
            break
        text = wrapped.group(2).strip()
    return text or type(error).__name__


def _is_timeout(error):
    lowered = str(error).lower()
    return "timed out" in lowered or "timeout" in lowered


def _explain_connection_error(where, error, options, waited):
    text = str(error)
    lowered = text.lower()
    if "certificate verify failed" in lowered:
        return ("the TLS certificate of %s is not trusted (%s); set ca_cert to the CA that issued the DC's "
                "certificate%s" % (where, _certificate_reason(text),
                                   "" if options.get("ca_cert") else " (none given: the system CA store was used)"))
    if _is_timeout(error):
        return ("cannot reach the LDAP server %s: no answer within %ds (connection_timeout) while connecting; waited "
                "%.1fs (is the DC running, reachable and not hung?)" % (where, options["connection_timeout"], waited))
    if "refused" in lowered:
        return "cannot reach the LDAP server %s: connection refused (is the DC running and the port right?)" % where
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "no address" in lowered:
        return "cannot resolve the LDAP server name in %s" % where
    if any(word in lowered for word in _CLOSED):
        return ("cannot reach the LDAP server %s: the connection was closed while connecting (%s; is the DC running "
                "and its LDAP service up?)" % (where, _first_line(error)))
    return "cannot connect to the LDAP server %s: %s" % (where, _first_line(error))


def _certificate_reason(text):
    marker = "certificate verify failed:"
    start = text.lower().find(marker)
    if start < 0:
        return "certificate verify failed"
    reason = text[start + len(marker):].split("(")[0].strip().strip("')\"")
    return reason or "certificate verify failed"


# Samba's default "ldap max search request size" is 256000 bytes; Windows
# accepts far more. Staying under Samba's limit keeps one code path for both.
MAX_FILTER_BYTES = 200000
# Samba matches every candidate entry against the whole filter, so a search
# costs about entries x terms: the SPN holders of 1,000 instances took 6 s
# in two 2,000-term searches, 2 s in nine of 500 terms (bench/README.md).
# Callers that batch thousands of terms pass this as max_terms: the cost
# stays linear, for one round trip per 500 terms.
MAX_FILTER_TERMS = 500
# Filters built from whole instances, names first (batched_group_filters)
# return each entry once, about one per five terms, and most entries match
# early, so they can be larger for the same cost: 1,000 instances' accounts
# and SPNs took the DC 0.7 s of CPU in three searches of up to 2,000 terms,
# 0.5 s in eleven of 500 (bench/README.md).
MAX_GROUPED_FILTER_TERMS = 2000


def normalize_dn(dn):
    """Fold case and the spaces tools put around separators."""
    return re.sub(r"\s*([,=+])\s*", r"\1", dn.strip()).lower()


def read_by_dn(client, dns, attributes, controls=None):
    """{normalised dn: DirectoryEntry} for the objects of the connection's
    domain that ``dns`` name, in batched searches (MAX_FILTER_TERMS DNs a
    search), never one search per object; an object not found is absent."""
    terms = sorted({"(distinguishedName=%s)" % escape_filter_value(dn) for dn in dns})
    found = {}
    for ldap_filter in batched_or_filters(terms, max_terms=MAX_FILTER_TERMS):
        for entry in client.search(client.default_naming_context, ldap_filter, attributes, controls=controls):
            found[normalize_dn(entry.dn)] = entry
    return found


def escape_filter_value(value):
    """Escape a value for an LDAP filter (RFC 4515); bytes are escaped whole."""
    if isinstance(value, (bytes, bytearray)):
        return "".join("\\%02x" % byte for byte in value)
    return "".join("\\%02x" % ord(c) if c in "\\*()\x00" else c for c in value)


def batched_or_filters(terms, template="%s", max_bytes=MAX_FILTER_BYTES, max_terms=None):
    """Yield filters ``template % (|term...)`` that together cover all terms,
    each under max_bytes (and max_terms terms, if given): one search per
    batch instead of one per term."""
    overhead = len((template % "(|)").encode("utf-8"))
    batch, size = [], overhead
    for term in terms:
        term_bytes = len(term.encode("utf-8"))
        if batch and (size + term_bytes > max_bytes or (max_terms and len(batch) >= max_terms)):
            yield template % ("(|%s)" % "".join(batch))
            batch, size = [], overhead
        batch.append(term)
        size += term_bytes
    if batch:
        yield template % ("(|%s)" % "".join(batch))


def batched_group_filters(groups, max_bytes=MAX_FILTER_BYTES, max_terms=MAX_GROUPED_FILTER_TERMS):
    """Yield OR filters that together cover every term of ``groups``, never
    splitting a group nor repeating a term within a filter, each under
    max_bytes and max_terms unless a single group is larger.

    A group is a sequence of tiers, lists of terms, e.g. (account terms, SPN
    terms) of one instance. Each filter lists the first tier of all its
    groups, then the second: Samba tries an entry against the terms in
    order until one matches, so the terms most entries match go first (an
    account's own name before the SPNs: half the DC's CPU, bench/README.md)."""
    tiers, size = [], len(b"(|)")
    for group in groups:
        new = _new_terms(group, tiers)
        added = [term for tier in new for term in tier]
        if any(tiers) and (size + _bytes(added) > max_bytes or sum(map(len, tiers)) + len(added) > max_terms):
            yield _or_filter(tiers)
            tiers, size = [], len(b"(|)")
            new = _new_terms(group, tiers)
            added = [term for tier in new for term in tier]
        while len(tiers) < len(new):
            tiers.append({})
        for batch_tier, tier in zip(tiers, new):
            batch_tier.update(dict.fromkeys(tier))
        size += _bytes(added)
    if any(tiers):
        yield _or_filter(tiers)


def _new_terms(group, tiers):
    """The group's tiers without the terms already in ``tiers`` or in an
    earlier tier of the group."""
    seen = set().union(*tiers)
    new = []
    for tier in group:
        new.append([term for term in dict.fromkeys(tier) if term not in seen])
        seen.update(tier)
    return new


def _bytes(terms):
    return sum(len(term.encode("utf-8")) for term in terms)


def _or_filter(tiers):
    return "(|%s)" % "".join(term for tier in tiers for term in tier)
