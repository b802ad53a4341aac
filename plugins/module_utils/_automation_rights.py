# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""automation_rights: grant the account the playbooks bind as exactly the
rights of the permission model (_permissions.py), as inheritable
object-specific ACEs on the OUs that hold the SQL service accounts, gMSAs
and SQL host computer objects, one per right and object class. The DACL
writes are spn_acl's (guarded, canonical order, check and diff mode); this
module only turns permission IDs into rights and says the same as dsacls
lines for AD teams that apply it by hand."""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._accounts import AccountError, parse_account_reference
from ansible_collections.sqlauth.kerberos.plugins.module_utils._permissions import PERMISSIONS
from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn_acl import READ_WRITE_PROPERTY, AclTarget, spn_acl

WRITE_DAC = 0x40000
# What the collection's writes need, but WRITE_DAC (PRM003): an admin better
# grants SELF the SPN rights once on the OU (spn_acl) than WRITE_DAC to a pipeline.
DEFAULT_PERMISSIONS = ("PRM002", "PRM004", "PRM005", "PRM007")
# The object classes as dsacls names them.
_DSACLS_CLASSES = {"user": "user", "computer": "computer", "gmsa": "msDS-GroupManagedServiceAccount",
                   "msa": "msDS-ManagedServiceAccount"}
_BY_ID = {permission.id: permission for permission in PERMISSIONS}


def rights_of(permission_id):
    """((access mask, object type GUID or None), ...) an ACE grants for one
    permission; AccountError for one no ACE grants."""
    permission = _BY_ID.get(permission_id)
    if permission is None:
        raise AccountError("no permission %s in the permission model (docsite page Permissions); known: %s"
                           % (permission_id, ", ".join(sorted(_BY_ID))))
    if permission.id == "PRM003":
        return ((WRITE_DAC, None),)
    if not permission.delegable or not permission.attribute_guid:
        raise AccountError("%s (%s) is not granted by an ACE on the OUs: %s" % (
            permission.id, permission.step, permission.note or permission.right))
    return ((READ_WRITE_PROPERTY, permission.attribute_guid),)


def validate_automation_rights(params):
    """Targets and rights, checked before connecting."""
    trustee_text = (params.get("trustee") or "").strip()
    if not trustee_text or trustee_text.upper() in ("SELF", "NT AUTHORITY\\SELF", "S-1-5-10"):
        raise AccountError("trustee must name the automation account or group (DOMAIN\\name), not %r"
                           % params.get("trustee"))
    units = params.get("organizational_units") or []
    if not units:
        raise AccountError("organizational_units is empty: name the OUs of the SQL service accounts, gMSAs and "
                           "SQL host computer objects")
    for unit in units:
        if "=" not in unit:
            raise AccountError("organizational_units item %r is not a distinguished name" % unit)
    permissions = list(dict.fromkeys(params.get("permissions") or DEFAULT_PERMISSIONS))
    rights = tuple(right for permission in permissions for right in rights_of(permission))
    trustee = parse_account_reference(trustee_text)
    classes = tuple(params.get("applies_to") or ("user", "gmsa", "computer"))
    state = params.get("state") or "present"
    targets = [AclTarget(unit, organizational_unit=unit, classes=classes, trustee=trustee, state=state)
               for unit in units]
    return dict(targets=targets, rights=rights, permissions=permissions, trustee=trustee_text, classes=classes,
                state=state, allow_domain_root=False, self_spn_rights=bool(params.get("self_spn_rights")))


def dsacls_lines(request):
    """The same grants (or their removal) as dsacls lines, for an AD admin;
    with ``self_spn_rights`` also SELF's SPN rights below the OUs, which the
    role grants with spn_acl."""
    lines = []
    for target in request["targets"]:
        unit = target.organizational_unit.replace("'", "''")
        trustee = request["trustee"].replace("'", "''")
        if request["state"] == "absent":
            lines.append("dsacls '%s' /R '%s'" % (unit, trustee))
            continue
        for name in request["classes"]:
            for permission in request["permissions"]:
                attribute = "" if permission == "PRM003" else _BY_ID[permission].attribute
                rights = "WD" if permission == "PRM003" else "RPWP"
                grant = "%s:%s;%s;%s" % (trustee, rights, attribute, _DSACLS_CLASSES[name])
                lines.append("dsacls '%s' /I:S /G '%s'" % (unit, grant))
            if request.get("self_spn_rights"):
                lines.append("dsacls '%s' /I:S /G 'SELF:RPWP;servicePrincipalName;%s'" % (unit, _DSACLS_CLASSES[name]))
                lines.append("dsacls '%s' /I:S /G 'SELF:WS;Validated write to service principal name;%s'"
                             % (unit, _DSACLS_CLASSES[name]))
    return lines


def automation_rights(client, request, check_mode=False):
    """The grants, through spn_acl's guarded DACL writes, and the dsacls lines."""
    result = spn_acl(client, request, check_mode)
    result.update(permissions=request["permissions"], dsacls=dsacls_lines(request))
    return result
