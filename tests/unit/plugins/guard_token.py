# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a DC does with the guard token changes of a modify (the
extensionName part), for the in-memory directories of the unit tests:
deleting a value that is not there fails the whole modify; and the DNs a
batched read asks for."""
from __future__ import annotations

import re

from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import LdapError


def guard_values_after(dn, values, changes):
    """The extensionName values after ``changes`` (a modify's dict), or
    LdapError noSuchAttribute, as a DC answers, when a deleted one is gone."""
    values = list(values)
    for operation, items in changes.get("extensionName", []):
        for value in items:
            if operation == "MODIFY_DELETE":
                if value not in values:
                    raise LdapError("modifying %s failed: noSuchAttribute" % dn, result="noSuchAttribute")
                values.remove(value)
            else:
                values.append(value)
    return values


_DN_TERM = re.compile(r"\(distinguishedName=((?:[^()\\]|\\[0-9a-fA-F]{2})*)\)", re.IGNORECASE)


def dns_named(ldap_filter):
    """The DNs a batched read by DN (read_by_dn) asks for, unescaped, in
    the filter's order."""
    return [re.sub(r"\\([0-9a-fA-F]{2})", lambda match: chr(int(match.group(1), 16)), value)
            for value in _DN_TERM.findall(ldap_filter)]
