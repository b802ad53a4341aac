# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every LDAP module does around its own work: connect, turn the
errors users can act on into a clear failure, disconnect."""
from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._ldap_connection import (
    LDAP3_IMPORT_ERROR,
    LDAP_CONNECTION_ARGUMENT_SPEC,
    DirectoryClient,
)


def ldap_argument_spec(**module_options):
    """The connection options plus a module's own."""
    spec = dict(LDAP_CONNECTION_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


def run_ldap_module(module, validate, execute):
    """Validate the input with ``validate(params) -> request`` (pure: bad input
    fails before any connection), then run ``execute(client, request,
    check_mode) -> result`` and exit the module. ``execute`` writes nothing
    in check mode and returns what it would have changed."""
    if LDAP3_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=LDAP3_IMPORT_ERROR)
    client = None
    try:
        request = validate(module.params)
        client = DirectoryClient({name: module.params.get(name) for name in LDAP_CONNECTION_ARGUMENT_SPEC})
        result = execute(client, request, module.check_mode)
    except SqlAuthError as error:
        partial = dict(error.partial_result)
        for warning in (client.warnings if client else []) + partial.pop("warnings", []):
            module.warn(warning)
        module.fail_json(msg=str(error), **partial)
    finally:
        if client is not None:
            client.close()
    for warning in client.warnings + result.pop("warnings", []):
        module.warn(warning)
    result.setdefault("changed", False)
    module.exit_json(**result)
