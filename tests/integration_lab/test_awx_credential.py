# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWX job with the AD bind credential, without AWX: its injectors are
rendered as AWX renders them (the unit tests' awx_inject), with a keytab and
no password, and the drift report runs from an AWX-style project playbook
with nothing but that environment: the keytab playbook decodes the keytab,
Kerberos logs on from it, the report is written and the exit code says
whether the estate drifted."""

from __future__ import annotations

import base64
import json

import yaml
from conftest import REPO, run_playbook

from ansible_collections.sqlauth.kerberos.tests.unit.extensions.awx.test_credential_types import awx_inject

INVENTORY = REPO / "playbooks" / "inventories" / "lab"
PROJECT_PLAYBOOK = """
- name: Decode the keytab of the AD bind credential, if it has one
  ansible.builtin.import_playbook: sqlauth.kerberos.awx_keytab
- name: Report the Kerberos drift of every SQL Server instance
  ansible.builtin.import_playbook: sqlauth.kerberos.drift_report
"""


def test_drift_report_binds_with_the_credentials_keytab(lab, kdc, tmp_path):
    keytab = tmp_path / "administrator.keytab"
    principal = "Administrator@%s" % lab.realm
    kdc.run("ktutil", stdin="addent -password -p %s -k 1 -e aes256-cts-hmac-sha1-96 -s %s\n%s\nwkt %s\nquit\n"
            % (principal, kdc.salt("Administrator"), lab.password, keytab))
    private_dir = tmp_path / "runner" / "env"
    private_dir.mkdir(parents=True)
    credential_type = yaml.safe_load((REPO / "extensions" / "awx" / "credential_types" / "ad_bind.yml").read_text())
    env, _extra_vars, _files = awx_inject(credential_type, dict(
        server=lab.server, auth_protocol="kerberos", ca_cert=open(lab.ca_cert).read(),
        keytab_base64=base64.b64encode(keytab.read_bytes()).decode(),
        krb5_conf=open(lab.krb5_config).read()), str(private_dir))
    assert env["SQLAUTH_LDAP_PASSWORD"] == "" and env["SQLAUTH_LDAP_USERNAME"] == ""
    project = tmp_path / "project"
    project.mkdir()
    (project / "drift_report.yml").write_text(PROJECT_PLAYBOOK)
    report_dir = tmp_path / "report"

    # sqlauth_ldap={} drops the lab inventory's connection: the credential's is the only one.
    run = run_playbook(project / "drift_report.yml", INVENTORY, env=dict(env, SQLAUTH_LAB_DIR=str(lab.dir)),
                       extra_vars=dict(sqlauth_ldap={}, sql_kerberos_report_dir=str(report_dir)))

    report = json.loads((report_dir / "drift-report.json").read_text())
    assert run.returncode == (2 if report["verdict"]["failing"] else 0), run.output
    assert (private_dir / "tmp_keytab_base64.keytab").read_bytes() == keytab.read_bytes()
    # The tickets came from the keytab, into the credential's cache file.
    assert (private_dir / "tmp_keytab_base64.ccache").stat().st_size > 0
    assert lab.password not in run.output
