# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a DC does with the guard token changes of a modify (the
extensionName part), for the in-memory directories of the unit tests:
deleting a value that is not there fails the whole modify."""
from __future__ import annotations

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
