# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The permission model: every attribute a module writes is declared, the
docsite page is generated from it, and a refused write is explained."""

from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils import (
    _delegation_flags,
    _encryption_types,
    _guarded_write,
    _rbkcd,
    _spn_register,
)
from ansible_collections.sqlauth.kerberos.tests.unit.plugins.generated_pages import rendered_and_committed
from ansible_collections.sqlauth.kerberos.plugins.module_utils._permissions import (
    PERMISSIONS,
    permissions_for,
    refused_write_hint,
)

# Every attribute the modules write, by the constants they write it with.
WRITTEN = {_spn_register._ATTRIBUTE, _rbkcd.RBCD_ATTRIBUTE, _delegation_flags._ATTRIBUTE,
           _encryption_types.ATTRIBUTE, _guarded_write.GUARD_ATTRIBUTE, "nTSecurityDescriptor"}


def test_every_written_attribute_has_a_permission():
    assert {name for name in WRITTEN if not permissions_for(name)} == set()


def test_ids_are_unique_and_a_dacl_write_names_both_its_permissions():
    assert len({p.id for p in PERMISSIONS}) == len(PERMISSIONS)
    assert [p.id for p in permissions_for("nTSecurityDescriptor")] == ["PRM003", "PRM009"]
    assert "PRM003, PRM009" in refused_write_hint(["nTSecurityDescriptor"])


def test_a_refused_write_names_the_right_and_the_permission():
    hint = refused_write_hint(["servicePrincipalName"])
    assert hint == ("; it needs read and write servicePrincipalName (dsacls RPWP;servicePrincipalName) "
                    "(permission PRM002, docsite page Permissions)")
    both = refused_write_hint(["userAccountControl", "extensionName"])
    assert "PRM006, PRM007" in both and "SeEnableDelegationPrivilege" in both
    assert refused_write_hint(["description"]) == ""


def test_the_docsite_page_is_generated_from_the_model():
    text, committed = rendered_and_committed("permissions_page.py", "guide_permissions.rst")
    assert committed == text
    for permission in PERMISSIONS:
        assert "  * - %s" % permission.id in text
