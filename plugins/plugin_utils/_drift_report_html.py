# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report's renderings, on the controller: the HTML page from the
Jinja2 template templates/drift_report.html.j2 (Jinja2 ships with
ansible-core), the other formats from module_utils/_drift_report.py."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from ansible_collections.sqlauth.kerberos.plugins.module_utils import _drift_report

# A check that is ok has no catalogue fields: what a template asks of it and
# it lacks is undefined, empty and false (Jinja2's default), not an error.
_ENVIRONMENT = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
                           autoescape=True, keep_trailing_newline=True)


def to_html(report):
    """A self-contained page (inline style, no script, nothing fetched): a
    table per instance, statuses coloured, the fix under each problem."""
    return _ENVIRONMENT.get_template("drift_report.html.j2").render(report=report)


RENDERINGS = dict(json=_drift_report.to_json, junit=_drift_report.to_junit, html=to_html,
                  powershell=_drift_report.to_powershell, ldif=_drift_report.to_ldif)


def render(report, file_format):
    """The report as one of RENDERINGS' formats."""
    if file_format not in RENDERINGS:
        raise ValueError("no drift report format %r (formats: %s)" % (file_format, ", ".join(RENDERINGS)))
    return RENDERINGS[file_format](report)
