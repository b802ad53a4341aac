# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The argument spec these options document is WINRM_CONNECTION_ARGUMENT_SPEC in
# plugins/module_utils/_winrm.py; change both together.
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  winrm_host:
    description:
      - DNS name of the Windows host to reach over WinRM.
      - Use the name Kerberos knows the host by (its FQDN), not an IP address, with O(winrm_transport=kerberos).
      - Has no environment variable fallback, since it names one host; the roles pass the inventory host.
    type: str
  winrm_port:
    description:
      - TCP port of the WinRM listener.
      - Defaults to V(5985) with O(winrm_scheme=http) and V(5986) with O(winrm_scheme=https).
      - The environment variable E(SQLAUTH_WINRM_PORT) gives it when no endpoint option is set (see the notes).
    type: int
  winrm_scheme:
    description:
      - V(http) talks to the default WinRM listener; the messages are still encrypted by the authentication
        (NTLM, Kerberos or CredSSP), see O(winrm_message_encryption).
      - V(https) talks to an HTTPS listener, whose certificate is checked as O(winrm_cert_validation) says.
      - Defaults to V(http).
      - The environment variable E(SQLAUTH_WINRM_SCHEME) gives it when no endpoint option is set (see the notes).
    type: str
    choices: [http, https]
  winrm_transport:
    description:
      - How to authenticate.
      - V(ntlm) with O(winrm_username) and O(winrm_password).
      - V(kerberos) from the controller's Kerberos ticket cache (C(kinit) first); O(winrm_username), when set,
        picks the principal from the cache. O(winrm_password) is not used.
      - V(kerberos) needs the C(pykerberos) Python package (C(pywinrm[kerberos])).
      - V(credssp) with O(winrm_username) and O(winrm_password); needs the C(requests-credssp) Python package
        (C(pywinrm[credssp])).
      - V(basic) with O(winrm_username) and O(winrm_password), a local account of the host; only with
        O(winrm_scheme=https), since Basic authentication does not encrypt the messages.
      - V(certificate) with the client certificate O(winrm_cert_pem) and its key O(winrm_cert_key_pem), mapped to a
        local account on the host; only with O(winrm_scheme=https).
      - Defaults to V(ntlm) when O(winrm_password) is set, V(certificate) when O(winrm_cert_pem) is set, and
        V(kerberos) otherwise.
      - The environment variable E(SQLAUTH_WINRM_TRANSPORT) gives it when no credentials option is set (see the
        notes).
    type: str
    choices: [ntlm, kerberos, credssp, basic, certificate]
  winrm_message_encryption:
    description:
      - V(auto) encrypts the messages with the authentication's session key over HTTP, and relies on TLS over
        HTTPS.
      - V(always) also encrypts them over HTTPS (V(ntlm), V(kerberos) and V(credssp) only).
      - V(never) does not encrypt them over HTTP; only for a lab, since the messages are readable on the way.
      - Defaults to V(auto).
      - The environment variable E(SQLAUTH_WINRM_MESSAGE_ENCRYPTION) gives it when no endpoint option is set (see
        the notes).
    type: str
    choices: [auto, always, never]
  winrm_cert_validation:
    description:
      - With O(winrm_scheme=https), V(validate) checks that the host's certificate chains to a trusted CA and
        names O(winrm_host); V(ignore) checks nothing (only for a lab).
      - Defaults to V(validate).
      - The environment variable E(SQLAUTH_WINRM_CERT_VALIDATION) gives it when no endpoint option is set (see the
        notes).
    type: str
    choices: [validate, ignore]
  winrm_ca_cert:
    description:
      - A PEM file with the CA certificate(s) that issued the host's HTTPS certificate.
      - If not set, the environment variable E(SQLAUTH_WINRM_CA_CERT) is used, whatever other option is set (a CA
        to trust weakens no check); without either, the CA bundle of the Python requests library.
    type: path
  winrm_cert_pem:
    description:
      - With O(winrm_transport=certificate), the PEM file of the client certificate.
      - The environment variable E(SQLAUTH_WINRM_CERT_PEM) gives it when no credentials option is set (see the
        notes).
    type: path
  winrm_cert_key_pem:
    description:
      - With O(winrm_transport=certificate), the PEM file of the client certificate's private key (not encrypted);
        keep it readable only by the account that runs Ansible.
      - The environment variable E(SQLAUTH_WINRM_CERT_KEY_PEM) gives it when no credentials option is set (see the
        notes).
    type: path
  winrm_username:
    description:
      - The account to connect as, V(CORP\\admin) or V(admin@corp.example.com); it must be allowed to use WinRM
        (Administrators or Remote Management Users) and to change what the module changes (local administrator).
      - The environment variable E(SQLAUTH_WINRM_USERNAME) gives it when no credentials option is set (see the
        notes).
    type: str
  winrm_password:
    description:
      - The password of O(winrm_username). Never logged.
      - The environment variable E(SQLAUTH_WINRM_PASSWORD) gives it when no credentials option is set (see the
        notes).
    type: str
  winrm_connection_timeout:
    description:
      - Seconds to wait for the connection and for each WinRM reply; at least V(2).
      - Long remote work (a service restart) is waited for in several replies and is limited by the module's own
        timeout instead.
      - If not set, the environment variable E(SQLAUTH_WINRM_CONNECTION_TIMEOUT) is used.
    type: int
    default: 30
notes:
  - The E(SQLAUTH_WINRM_*) environment variables are read by group, so that one source's password never goes
    with another's user, nor one's O(winrm_cert_validation=ignore) with another's host. The credentials are
    O(winrm_transport), O(winrm_username), O(winrm_password), O(winrm_cert_pem) and O(winrm_cert_key_pem); when
    any of them is set, none of E(SQLAUTH_WINRM_TRANSPORT), E(SQLAUTH_WINRM_USERNAME), E(SQLAUTH_WINRM_PASSWORD),
    E(SQLAUTH_WINRM_CERT_PEM) and E(SQLAUTH_WINRM_CERT_KEY_PEM) is read. The endpoint options are O(winrm_port),
    O(winrm_scheme), O(winrm_cert_validation) and O(winrm_message_encryption); when any of them is set, none of
    E(SQLAUTH_WINRM_PORT), E(SQLAUTH_WINRM_SCHEME), E(SQLAUTH_WINRM_CERT_VALIDATION) and
    E(SQLAUTH_WINRM_MESSAGE_ENCRYPTION) is read. E(SQLAUTH_WINRM_CA_CERT) stands alone. An empty variable is unset.
  - For a Windows host the module talks WinRM from where it runs; run it on the controller with
    C(delegate_to) set to V(localhost), and set the connection once for all WinRM modules with
    C(module_defaults) and the action group C(group/sqlauth.kerberos.winrm).
  - The C(sqlauth.kerberos.sql_static_port) role fills these options from C(sqlauth_winrm) or the host's own
    Ansible connection variables (C(ansible_host), C(ansible_winrm_transport), ...), the endpoint and the
    credentials each whole from one of them; see the filter C(sqlauth.kerberos.winrm_connection).
  - Each WinRM call starts one C(powershell.exe) running a small fixed script; the data travels as a base64 JSON
    argument, never as script text.
requirements:
  - pywinrm >= 0.5.0 (for Windows hosts)
  - pykerberos (only for O(winrm_transport=kerberos); C(pywinrm[kerberos]))
  - requests-credssp (only for O(winrm_transport=credssp); C(pywinrm[credssp]))
"""
