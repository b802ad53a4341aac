#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sql_static_port
short_description: Pin SQL Server instances to a static TCP port, for Kerberos SPNs that stay right
version_added: 0.1.0
description:
  - Kerberos SPNs name the port clients connect to (C(MSSQLSvc/host.fqdn:1533)); an instance on a dynamic port
    gets another one at its next restart, and its SPN then points nowhere. Microsoft's advice is to set a
    static port and register the SPN with it; this module does the first part, for every instance of a host
    in one call.
  - On Windows, per instance, enables the TCP/IP protocol, sets C(TCP Port) and clears C(TCP Dynamic Ports) in
    C(IPAll), or in every enabled C(IPn) when C(Listen All) is No, as SQL Server Configuration Manager does.
    The instance is found through
    C(HKLM\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL) (also under C(WOW6432Node)); its
    settings are under C(...\<InstanceId>\MSSQLServer\SuperSocketNetLib\Tcp).
  - On Linux, sets C([network] tcpport) in C(mssql.conf), keeping every other byte of the file. Without that
    setting SQL Server on Linux listens on 1433.
  - A running instance takes the new port only when its service restarts. RV(instances[].restart_required) says
    which instances need it; the module restarts them only with O(restart=true), and waits until they run
    again (on Windows, the dependent services that were running, such as SQL Server Agent, are started again).
  - Refuses, before writing anything, an instance the host does not have, a port another instance of the host
    uses (its static port or its current dynamic port), two instances asking for the same port, and a port
    outside 1-65535. On Linux, also a port another process listens on.
author:
  - sqlauth.kerberos contributors (@sqlauth)
extends_documentation_fragment:
  - sqlauth.kerberos.winrm_connection
attributes:
  check_mode:
    support: full
    description: Reads the current settings and reports what would be written and restarted, writing nothing.
      C(changed) is true only when something would change.
  diff_mode:
    support: full
    description: Per instance, the registry values (or the mssql.conf setting) before and after.
options:
  instances:
    description:
      - The instances of the host and their ports, all in one call.
    type: list
    elements: dict
    required: true
    suboptions:
      instance:
        description:
          - Instance name; V(MSSQLSERVER) is the default instance (the only one on Linux).
        type: str
        default: MSSQLSERVER
      port:
        description:
          - The static TCP port, 1-65535. The port settings end up holding exactly this port; other static ports
            listed there are removed.
        type: int
        required: true
      enable_tcp:
        description:
          - Enable the TCP/IP protocol of the instance if it is disabled (Windows).
          - V(false) leaves the protocol as it is; the port is still set, and applies once TCP/IP is enabled.
            The module never disables TCP/IP.
        type: bool
        default: true
  platform:
    description:
      - V(windows) changes a Windows host over WinRM (the C(winrm_*) options); run the module on the controller
        with C(delegate_to=localhost) and O(winrm_host) set to the host.
      - V(linux) changes SQL Server on Linux; the module runs on that host itself, as root (C(become=true)), and
        needs no WinRM.
    type: str
    choices: [windows, linux]
    default: windows
  host_fqdn:
    description:
      - The Windows host's DNS name, which the result and the messages name its instances with (C(host\NAME)).
      - Defaults to O(winrm_host); set it when O(winrm_host) is an IP address or another name than clients use.
        The C(sqlauth.kerberos.sql_static_port) role sets it to the inventory's name of the host.
    type: str
    version_added: 0.3.0
  restart:
    description:
      - Restart the service of every instance that needs it to take the new port, and wait until it runs
        again.
      - With V(false), nothing is restarted; RV(instances[].restart_required) and RV(restart_required) tell which
        instances still need a restart.
    type: bool
    default: false
  restart_timeout:
    description:
      - Seconds to wait for a service to stop and to run again (on Windows, per service restarted or started).
    type: int
    default: 120
  mssql_conf:
    description:
      - The settings file of SQL Server on Linux (O(platform=linux)).
      - When it does not exist but its folder does, it is created with the setting.
    type: path
    default: /var/opt/mssql/mssql.conf
  restart_command:
    description:
      - The command that restarts SQL Server on Linux (O(platform=linux)), run without a shell. The module then
        waits until a C(sqlservr) process listens on the port.
    type: list
    elements: str
    default: [systemctl, restart, mssql-server]
notes:
  - For Windows hosts the module runs on the controller and reaches the host over WinRM (C(delegate_to=localhost));
    for Linux hosts it runs on the host itself, like any module.
  - On Windows, the account needs local administrator rights on the host to write the instance's registry keys and
    restart its service.
  - A restart briefly disconnects every client of the instance; availability group and failover cluster instances
    should be restarted through their own failover procedures instead (leave O(restart=false)).
seealso:
  - module: sqlauth.kerberos.spn_facts
  - module: sqlauth.kerberos.spn_register
  - name: Configure a Server to Listen on a Specific TCP Port
    description: The SQL Server Configuration Manager steps this module performs.
    link: https://learn.microsoft.com/sql/database-engine/configure-windows/configure-a-server-to-listen-on-a-specific-tcp-port
  - name: Configure SQL Server on Linux with the mssql-conf tool
    description: The C(network.tcpport) setting.
    link: https://learn.microsoft.com/sql/linux/sql-server-linux-configure-mssql-conf
"""

EXAMPLES = r"""
- name: Pin the ports of a Windows host's instances, without restarting them
  sqlauth.kerberos.sql_static_port:
    winrm_host: sql2.corp.example.com
    winrm_transport: kerberos
    instances:
      - instance: MSSQLSERVER
        port: 1433
      - instance: SALES
        port: 1533
  delegate_to: localhost
  register: pinned

- name: Show which instances still need a restart
  ansible.builtin.debug:
    msg: "{{ pinned.instances | selectattr('restart_required') | map(attribute='name') | list }}"

- name: Pin the port and restart the instance in a maintenance window
  sqlauth.kerberos.sql_static_port:
    winrm_host: sql3.corp.example.com
    winrm_username: CORP\sqladmin
    winrm_password: "{{ vault_sqladmin_password }}"
    instances:
      - instance: REPORTS
        port: 1633
    restart: true
  delegate_to: localhost

- name: Pin the port of SQL Server on Linux
  sqlauth.kerberos.sql_static_port:
    platform: linux
    instances:
      - port: 1433
    restart: true
  become: true
"""

RETURN = r"""
host:
  description: The Windows host changed, as O(host_fqdn) names it (by default O(winrm_host)).
  returned: when O(platform=windows)
  type: str
  sample: sql2.corp.example.com
instances:
  description: One entry per instance, in the order given.
  returned: success, and on a failure after something was changed
  type: list
  elements: dict
  contains:
    name:
      description: The instance as clients name it, C(host) or C(host\NAME) (on Linux, C(MSSQLSERVER)).
      type: str
      sample: sql2.corp.example.com\SALES
    instance:
      description: The instance name.
      type: str
      sample: SALES
    instance_id:
      description: The registry instance id (Windows), or null.
      type: str
      sample: MSSQL16.SALES
    service:
      description: The instance's service, C(MSSQLSERVER), C(MSSQL$NAME), or C(mssql-server) on Linux.
      type: str
    port:
      description: The static port set.
      type: int
      sample: 1533
    tcp_enabled:
      description: Whether TCP/IP is enabled after the change.
      type: bool
    changed:
      description: Whether anything was (or in check mode would be) written or restarted for this instance.
      type: bool
    changes:
      description:
        - What was (or would be) written; on Windows C(key), C(value), C(before), C(after) per registry value
          (C(before) null for a value that did not exist), on Linux C(file), C(section), C(option), C(before),
          C(after).
      type: list
      elements: dict
      sample:
        - {key: "HKLM\\SOFTWARE\\Microsoft\\Microsoft SQL Server\\MSSQL16.SALES\\MSSQLServer\\SuperSocketNetLib\\Tcp\\IPAll",
           value: TcpDynamicPorts, before: "0", after: ""}
    restart_required:
      description:
        - Whether the running instance must restart to listen on the port, because the settings changed now,
          or earlier without a restart (it does not listen on the port). False for a stopped instance, which
          takes the settings when it starts.
      type: bool
    restarted:
      description: Whether the service was (or in check mode would be) restarted.
      type: bool
    service_state:
      description: The service's state after the run (Windows C(Running), C(Stopped), ...; Linux C(running) or
        C(stopped)), or null when there is no such service.
      type: str
    listening_ports:
      description: The TCP ports the running instance listens on, when the host can tell.
      type: list
      elements: int
restart_required:
  description: Whether any instance still needs a restart.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sqlauth.kerberos.plugins.module_utils._host_module import host_argument_spec, run_host_module
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_static_port import (
    DEFAULT_MSSQL_CONF,
    DEFAULT_RESTART_COMMAND,
    INSTANCE_OPTIONS,
    static_port_linux,
    static_port_windows,
    validate_static_port,
)


def main():
    module = AnsibleModule(
        argument_spec=host_argument_spec(
            instances=dict(type="list", elements="dict", required=True, options=INSTANCE_OPTIONS),
            host_fqdn=dict(type="str"),
            restart=dict(type="bool", default=False),
            restart_timeout=dict(type="int", default=120),
            mssql_conf=dict(type="path", default=DEFAULT_MSSQL_CONF),
            restart_command=dict(type="list", elements="str", default=DEFAULT_RESTART_COMMAND),
        ),
        supports_check_mode=True,
    )
    run_host_module(module, validate_static_port, static_port_windows, static_port_linux)


if __name__ == "__main__":
    main()
