# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL Server instances as an inventory describes them, and the SPNs their
clients ask for. Pure code; the option set is documented in the
``sqlauth.kerberos.sql_instances`` doc fragment."""
from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sqlauth.kerberos.plugins.module_utils._spn import (
    DEFAULT_INSTANCE,
    SpnError,
    mssql_spn,
    normalize_spn,
    short_host_name,
    validate_hostname,
    validate_instance_name,
    validate_port,
)

SQL_INSTANCE_OPTIONS = dict(
    host=dict(type="str", required=True),
    instance=dict(type="str", default=DEFAULT_INSTANCE),
    port=dict(type="raw"),
    tcp_enabled=dict(type="bool", default=True),
    service_account=dict(type="str", required=True),
    listeners=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        port=dict(type="int"),
    )),
    aliases=dict(type="list", elements="str", default=[]),
    extra_spns=dict(type="list", elements="str", default=[]),
)

# The SPN forms a client may build, in the order reports list them.
# An alias with its own address record adds the host forms for its name, as
# alias_<form>.
SPN_FORMS = ("fqdn_port", "fqdn_instance", "netbios_port", "netbios_instance", "listener_fqdn", "listener_netbios")
SPN_FORMS_ARGUMENT_SPEC = dict(type="list", elements="str", choices=list(SPN_FORMS), default=list(SPN_FORMS))
# dns_facts' ``names``: which aliases have address records of their own.
NAME_RESOLUTION_ARGUMENT_SPEC = dict(type="list", elements="dict")
DYNAMIC_PORT = "dynamic"
# The Database Engine's port when nothing else is set (a default instance).
DEFAULT_PORT = 1433


@dataclass(frozen=True)
class RequiredSpn:
    spn: str
    form: str


@dataclass
class SqlInstance:
    host: str
    instance: str
    port: int | None
    tcp_enabled: bool
    service_account: str
    listeners: list = field(default_factory=list)
    extra_spns: list = field(default_factory=list)
    # Every alias of the inventory, and those that need SPNs of their own
    # (by DNS: the aliases with address records of their own).
    aliases: list = field(default_factory=list)
    alias_spn_names: list = field(default_factory=list)

    @property
    def is_default(self):
        return self.instance == DEFAULT_INSTANCE

    @property
    def name(self):
        return display_name(self.host, self.instance)

    @property
    def dynamic_port(self):
        return self.tcp_enabled and self.port is None

    def required_spns(self, forms=SPN_FORMS):
        """The SPNs clients build for this instance, in the given forms.

        With TCP the client asks for host:port; without it (named pipes,
        shared memory) for host:INSTANCE, or the bare host for the default
        instance. Ports only count once pinned: a dynamic port changes at
        restart, so an SPN with it would be wrong tomorrow."""
        wanted = self._host_spns(self.host, forms)
        if self.tcp_enabled:
            for listener in self.listeners:
                if "listener_fqdn" in forms:
                    wanted.append(RequiredSpn(mssql_spn(listener["name"], port=listener["port"]), "listener_fqdn"))
                if "listener_netbios" in forms and "." in listener["name"]:
                    wanted.append(RequiredSpn(mssql_spn(short_host_name(listener["name"]), port=listener["port"]),
                                              "listener_netbios"))
        for alias in self.alias_spn_names:
            wanted.extend(RequiredSpn(required.spn, "alias_" + required.form)
                          for required in self._host_spns(alias, forms))
        wanted.extend(RequiredSpn(spn, "extra") for spn in self.extra_spns)
        unique = {}
        for required in wanted:
            unique.setdefault(required.spn.lower(), required)
        return list(unique.values())

    def _host_spns(self, name, forms):
        """The host forms for one name the client connects by: the host's
        own, or an alias with an address record of its own."""
        wanted = []
        suffix = {} if self.is_default else {"instance": self.instance}
        for host, port_form, instance_form in ((name, "fqdn_port", "fqdn_instance"),
                                               (short_host_name(name), "netbios_port", "netbios_instance")):
            if port_form in forms and self.tcp_enabled and self.port is not None:
                wanted.append(RequiredSpn(mssql_spn(host, port=self.port), port_form))
            if instance_form in forms:
                wanted.append(RequiredSpn(mssql_spn(host, **suffix), instance_form))
        return wanted

    def summary(self):
        return dict(name=self.name, host=self.host, instance=self.instance,
                    port=DYNAMIC_PORT if self.port is None else self.port, tcp_enabled=self.tcp_enabled)


def parse_instance(options, aliases_without_spns=()):
    """Validate one instance's options (the SQL_INSTANCE_OPTIONS shape) into a
    SqlInstance; raises SpnError naming the instance and the bad value.

    ``aliases_without_spns``: the lower-case aliases DNS says need no SPN of
    their own (_dns_names.aliases_without_spns): a CNAME alias, as clients
    build the SPN from the canonical name. Every other alias needs its SPNs."""
    label = "instance %s" % _label(options)
    try:
        host = validate_hostname(options["host"], "host")
        if "." not in host:
            raise SpnError("host %r must be the fully qualified DNS name" % options["host"])
        instance = validate_instance_name(options.get("instance") or DEFAULT_INSTANCE)
        port = static_port(instance, options.get("port"))
        listeners = []
        for listener in options.get("listeners") or []:
            listener_port = listener.get("port")
            if listener_port is None:
                listener_port = port
            if listener_port is None:
                raise SpnError("listener %r needs a port (the instance has no static port)" % listener["name"])
            listeners.append(dict(name=validate_hostname(listener["name"], "listener name"),
                                  port=validate_port(listener_port, "listener port")))
        extra_spns = [normalize_spn(spn) for spn in options.get("extra_spns") or []]
        aliases = []
        for alias in options.get("aliases") or []:
            alias = validate_hostname(alias, "alias")
            if "." not in alias:
                raise SpnError("alias %r must be the fully qualified DNS name clients connect by" % alias)
            if alias.lower() != host.lower() and alias.lower() not in [a.lower() for a in aliases]:
                aliases.append(alias)
    except SpnError as error:
        raise SpnError("%s: %s" % (label, error)) from None
    with_spns = [alias for alias in aliases if alias.lower() not in aliases_without_spns]
    return SqlInstance(host=host, instance=instance, port=port, tcp_enabled=options.get("tcp_enabled", True),
                       service_account=options["service_account"], listeners=listeners, extra_spns=extra_spns,
                       aliases=aliases, alias_spn_names=with_spns)


def _label(options):
    return display_name(options.get("host") or "?", options.get("instance"))


def display_name(host, instance=None):
    """How SQL Server names an instance: the host for the default instance
    (MSSQLSERVER, however written, or none), host\\NAME otherwise. The one
    place the collection builds it."""
    if not instance or instance.strip().upper() == DEFAULT_INSTANCE:
        return host
    return "%s\\%s" % (host, instance)


def static_port(instance, port):
    """The TCP port an inventory item gives an instance, or None for a
    dynamic port: the default instance listens on 1433 unless told
    otherwise, named instances use dynamic ports unless one was pinned.
    Raises SpnError for a port that is neither a TCP port nor 'dynamic'."""
    if port is None:
        return DEFAULT_PORT if (instance or DEFAULT_INSTANCE).upper() == DEFAULT_INSTANCE else None
    if str(port).strip().lower() == DYNAMIC_PORT:
        return None
    return validate_port(port, "port")


def windows_service_name(instance):
    """The Windows service of a Database Engine instance: MSSQLSERVER for
    the default instance, MSSQL$NAME for a named one."""
    return DEFAULT_INSTANCE if instance == DEFAULT_INSTANCE else "MSSQL$%s" % instance


def virtual_account(instance):
    """The instance's virtual account, the installer's default service
    account: NT SERVICE\\ and its Windows service name."""
    return "NT SERVICE\\%s" % windows_service_name(instance)


def instance_key(host, instance=None):
    """An instance folded for comparison however it is written: (host,
    INSTANCE), the default instance as MSSQLSERVER whether named or not."""
    return host.strip().lower(), (instance or DEFAULT_INSTANCE).strip().upper()


def instance_key_from_name(name):
    """instance_key of a name as SQL Server writes it: HOST or HOST\\INSTANCE."""
    host, _sep, instance = name.strip().partition("\\")
    return instance_key(host, instance)
