# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDIF change records (RFC 2849) of the modify requests the modules send.

A request is what the modules hand to ``client.modify``: a DN and ldap3's
``changes`` (``{attribute: [(operation, values)]}``). ldap3's LDIF producer
strategy runs it through the same Connection.modify that sends it to a DC,
and writes the request it built as LDIF instead of sending it, so the LDIF
given to an AD administrator and a live run cannot disagree.

The text is ready for ``ldapmodify``: ``changetype: modify``, one ``add:`` or
``delete:`` per change ended by ``-``, and values that are not safe as
text (binary values, a leading space or colon, non-ASCII) base64-encoded
after ``::``. Two things ldap3 does for a whole file are undone: the
``version: 1`` line it puts on every record (a record here is one part of a
longer file), and the folding of long lines (a value stays on one line,
which ldapmodify reads as well, and which can be searched for).
"""
from __future__ import annotations

import traceback

try:
    import ldap3
    from ldap3.core import exceptions as ldap3_exceptions
except ImportError:
    LDAP3_IMPORT_ERROR = traceback.format_exc()
    ldap3 = ldap3_exceptions = None
else:
    LDAP3_IMPORT_ERROR = None

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

_VERSION_LINE = "version: 1"


class LdifError(SqlAuthError):
    """LDIF that cannot be written (ldap3 missing, or a request it refuses)."""


def modify_record(dn, changes):
    """The LDIF change record of one modify request (``dn``, ``changes`` as
    given to ``client.modify``), ending with a newline; records of a file
    are separated by an empty line."""
    if LDAP3_IMPORT_ERROR:
        raise LdifError("writing LDIF needs the ldap3 Python package on the controller (pip install ldap3)")
    connection = ldap3.Connection(ldap3.Server("ldif"), client_strategy=ldap3.LDIF)
    # Newlines, not the platform's line separator (os.linesep).
    connection.strategy.line_separator = "\n"
    connection.open()
    try:
        text = connection.modify(dn, changes)
    except ldap3_exceptions.LDAPException as error:
        raise LdifError("cannot write the LDIF of a modify of %s: %s" % (dn, error)) from None
    finally:
        connection.unbind()
    if not isinstance(text, str):
        raise LdifError("ldap3 wrote no LDIF for a modify of %s" % dn)
    lines = []
    for line in text.split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]  # a folded line goes on (RFC 2849, note 2)
        else:
            lines.append(line)
    if lines and lines[0] == _VERSION_LINE:
        lines.pop(0)
    return "\n".join(lines) + "\n"
