# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report's renderings, on the controller: the HTML page from the
Jinja2 template templates/drift_report.html.j2 (Jinja2 ships with
ansible-core), the other formats from module_utils/_drift_report.py; and
the report folder's files, written here by the action drift_report_files."""
from __future__ import annotations

import os
import tempfile
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


def write_files(report, directory, formats, write=True):
    """Render ``report`` in each of ``formats`` into its file in
    ``directory`` (REPORT_FILE_NAMES; the folder made, mode 0755, if
    missing). Each file is replaced whole (a temporary file renamed over
    it, mode 0644): a reader never sees half a report. ``write=False``
    (check mode) renders and compares only. Returns [dict(format, path,
    changed)]; raises OSError naming the file it could not write and the
    files written before it."""
    # Every format rendered before the first is written: a rendering that fails writes nothing.
    texts = [(file_format, os.path.join(directory, _drift_report.REPORT_FILE_NAMES[file_format]),
              render(report, file_format).encode("utf-8")) for file_format in dict.fromkeys(formats)]
    files = []
    for file_format, path, text in texts:
        try:
            changed = _differs(path, text)
            if changed and write:
                _replace(path, text)
        except OSError as error:
            written = [f["path"] for f in files if f["changed"] and write]
            raise OSError("could not %s %s (%s); written before it: %s"
                          % ("write" if write else "read", path, error.strerror or error,
                             ", ".join(written) or "nothing")) from None
        files.append(dict(format=file_format, path=path, changed=changed))
    return files


def _differs(path, text):
    try:
        with open(path, "rb") as handle:
            return handle.read() != text
    except FileNotFoundError:
        return True


def _replace(path, text):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
