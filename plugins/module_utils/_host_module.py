# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module that changes a SQL Server host does around its own
work: validate the input, reach the host (WinRM to Windows from the
controller, or the Linux host the module runs on), turn the errors users
can act on into a clear failure, and return the diff."""
from __future__ import annotations

import os

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._linux_host import LinuxHost
from ansible_collections.sqlauth.kerberos.plugins.module_utils._static_port_plan import PLATFORMS
from ansible_collections.sqlauth.kerberos.plugins.module_utils._winrm import (
    WINRM_CONNECTION_ARGUMENT_SPEC,
    WINRM_IMPORT_ERROR,
    WindowsHost,
    with_environment,
)


def host_argument_spec(**module_options):
    """The platform and WinRM connection options plus a module's own."""
    spec = dict(platform=dict(type="str", choices=list(PLATFORMS), default="windows"))
    spec.update(WINRM_CONNECTION_ARGUMENT_SPEC)
    spec.update(module_options)
    return spec


def run_host_module(module, validate, on_windows, on_linux):
    """Validate the input with ``validate(params) -> request`` (pure: bad
    input fails before any connection), then run ``on_windows(WindowsHost,
    request, check_mode)`` or ``on_linux(LinuxHost, request, check_mode)``
    and exit the module. Both write nothing in check mode and return what
    they would change, with a ``diff``."""
    try:
        request = validate(module.params)
        if request["platform"] == "windows":
            if WINRM_IMPORT_ERROR:
                module.fail_json(msg=missing_required_lib("pywinrm"), exception=WINRM_IMPORT_ERROR)
            options, secrets = with_environment({name: module.params.get(name) for name in WINRM_CONNECTION_ARGUMENT_SPEC},
                                                os.environ)
            module.no_log_values.update(secrets)
            host = WindowsHost(options)
            result = on_windows(host, request, module.check_mode)
        else:
            result = on_linux(LinuxHost(module), request, module.check_mode)
    except SqlAuthError as error:
        fail(module, error)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    result.setdefault("changed", False)
    module.exit_json(**result)


def fail(module, error):
    """Fail the module with a SqlAuthError's message and what was done
    before it (its partial result, warnings shown as warnings)."""
    partial = dict(error.partial_result)
    for warning in partial.pop("warnings", []):
        module.warn(warning)
    partial.setdefault("changed", False)
    module.fail_json(msg=str(error), **partial)
