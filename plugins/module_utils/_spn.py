# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service principal name rules: parse, validate, format and compare.

Pure code, no I/O. An SPN is ``serviceclass/host[:port][/servicename]``; SQL
Server's are ``MSSQLSvc/host[:port|:instance]``. The KDC and AD compare SPNs
case-insensitively, so every comparison here goes through ``spn_key``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

MSSQL_SERVICE_CLASS = "MSSQLSvc"
DEFAULT_INSTANCE = "MSSQLSERVER"

_SERVICE_CLASS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# SQL Server instance names: up to 16 characters, starting with a letter or
# underscore; letters, digits, underscore and $ after that.
_INSTANCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,15}$")
_PORT = re.compile(r"^[1-9][0-9]{0,4}$")


class SpnError(SqlAuthError, ValueError):
    """A malformed SPN, host name, port or instance name."""


@dataclass(frozen=True)
class ServicePrincipalName:
    service_class: str
    host: str
    port: int | None = None
    instance: str | None = None
    service_name: str | None = None

    def __str__(self):
        text = "%s/%s" % (self.service_class, self.host)
        if self.port is not None:
            text += ":%d" % self.port
        elif self.instance is not None:
            text += ":%s" % self.instance
        if self.service_name is not None:
            text += "/%s" % self.service_name
        return text

    @property
    def key(self):
        return spn_key(str(self))


def spn_key(spn):
    """The comparison key of an SPN string: AD and the KDC ignore case."""
    return spn.lower()


def validate_port(port, what="port"):
    """Return ``port`` as an int in 1-65535, or raise SpnError."""
    if isinstance(port, bool):
        raise SpnError("%s %r is not a TCP port number" % (what, port))
    text = str(port).strip()
    if not _PORT.match(text) or not 1 <= int(text) <= 65535:
        raise SpnError("%s %r is not a TCP port number (1-65535)" % (what, port))
    return int(text)


def validate_hostname(name, what="host name"):
    """Return a DNS or NetBIOS host name lower-cased, or raise SpnError."""
    if not isinstance(name, str) or not name:
        raise SpnError("%s is empty" % what)
    _require_ascii(name, what)
    text = name.rstrip(".")
    labels = text.split(".")
    if len(text) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise SpnError("%s %r is not a valid DNS or NetBIOS host name" % (what, name))
    if labels[-1].isdigit():
        raise SpnError("%s %r is an IP address; Kerberos needs the host's DNS name" % (what, name))
    return text.lower()


def validate_instance_name(name):
    """Return a SQL Server instance name upper-cased, or raise SpnError."""
    if not isinstance(name, str) or not _INSTANCE_NAME.match(name):
        raise SpnError(
            "instance name %r is not a valid SQL Server instance name (1-16 letters, digits, "
            "'_' or '$', starting with a letter or '_')" % (name,))
    return name.upper()


def short_host_name(fqdn):
    """The NetBIOS-style first label of a host name, as clients use it."""
    return fqdn.split(".", 1)[0]


# A computer's NetBIOS name, and so its sAMAccountName before the $, has at most 15 characters.
NETBIOS_NAME_LENGTH = 15


def computer_account_name(fqdn):
    """The sAMAccountName of a host's computer account, lower case: its
    short name cut to the NetBIOS length, and $."""
    return "%s$" % short_host_name(fqdn)[:NETBIOS_NAME_LENGTH].lower()


def mssql_spn(host, port=None, instance=None):
    """Format an MSSQLSvc SPN; host lower-cased, instance upper-cased."""
    if port is not None and instance is not None:
        raise SpnError("an MSSQLSvc SPN takes a port or an instance name, not both")
    return str(ServicePrincipalName(
        MSSQL_SERVICE_CLASS,
        validate_hostname(host),
        port=None if port is None else validate_port(port),
        instance=None if instance is None else validate_instance_name(instance),
    ))


def parse_spn(text):
    """Parse and validate an SPN string; MSSQLSvc SPNs get their canonical
    spelling (service class ``MSSQLSvc``, lower-case host, upper-case instance)."""
    if not isinstance(text, str) or not text:
        raise SpnError("SPN is empty")
    _require_ascii(text, "SPN %r" % text)
    if any(c.isspace() for c in text):
        raise SpnError("SPN %r contains white space" % text)
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise SpnError("SPN %r is not of the form serviceclass/host[:port][/servicename]" % text)
    service_class, host_part = parts[0], parts[1]
    service_name = parts[2] if len(parts) == 3 else None
    if not _SERVICE_CLASS.match(service_class):
        raise SpnError("SPN %r has an invalid service class %r" % (text, service_class))
    host, sep, suffix = host_part.partition(":")
    try:
        host = validate_hostname(host, "SPN %r host" % text)
    except SpnError as error:
        raise SpnError(str(error)) from None
    port = instance = None
    is_mssql = service_class.lower() == MSSQL_SERVICE_CLASS.lower()
    if sep:
        if not suffix:
            raise SpnError("SPN %r has an empty port" % text)
        if suffix[0].isdigit():
            port = validate_port(suffix, "SPN %r port" % text)
        elif is_mssql:
            instance = validate_instance_name(suffix)
        else:
            raise SpnError("SPN %r port %r is not a number" % (text, suffix))
    if is_mssql:
        if service_name is not None:
            raise SpnError("MSSQLSvc SPN %r must not have a service name part" % text)
        return ServicePrincipalName(MSSQL_SERVICE_CLASS, host, port, instance)
    return ServicePrincipalName(service_class, host, port, instance, service_name)


def normalize_spn(text):
    """Canonical spelling of an SPN string (see parse_spn)."""
    return str(parse_spn(text))


def _require_ascii(text, what):
    if not text.isascii() or not text.isprintable():
        raise SpnError("%s contains non-ASCII or control characters" % what)
