# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spn_facts' Python entry point without Ansible around it: the module's
main() with the arguments of a JSON file, as a plain process. Its time next
to the AnsiballZ run shows what the Ansible wrapper costs.

It also counts LDAP messages independently of the module: every ldap3
connection is opened with ldap3's usage statistics, which are written to
stderr as one ``ldap3-usage {...}`` JSON line at exit.

Usage: python entry.py ARGS_FILE (JSON: the module's arguments); the
connection comes from the SQLAUTH_LDAP_* environment variables.
"""

import atexit
import json
import sys

import ldap3
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sqlauth.kerberos.plugins.modules import spn_facts

CONNECTIONS = []
_OPEN_CONNECTION = ldap3.Connection.__init__


def _connection_with_usage(self, *args, **kwargs):
    kwargs["collect_usage"] = True
    _OPEN_CONNECTION(self, *args, **kwargs)
    CONNECTIONS.append(self)


def _report_usage():
    def total(name):
        return sum(getattr(connection.usage, name) for connection in CONNECTIONS)

    usage = {"connections": len(CONNECTIONS), "binds": total("bind_operations"),
             "searches": total("search_operations"), "modifies": total("modify_operations"),
             "messages_sent": total("messages_transmitted"), "messages_received": total("messages_received"),
             "bytes_sent": total("bytes_transmitted"), "bytes_received": total("bytes_received")}
    sys.stderr.write("ldap3-usage %s\n" % json.dumps(usage))


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        arguments = json.load(handle)
    ldap3.Connection.__init__ = _connection_with_usage
    atexit.register(_report_usage)
    with patch_module_args(arguments):
        spn_facts.main()


if __name__ == "__main__":
    main()
