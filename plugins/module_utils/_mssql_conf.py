# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mssql.conf, the settings file of SQL Server on Linux.

mssql-conf reads and writes it with Python's configparser: ``[section]``
headers, ``key = value`` (or ``key: value``) settings, ``#`` and ``;``
comment lines, indented continuation lines. This module reads one setting
and changes one setting while keeping every other byte of the file as it
was: comments, blank lines, spacing, line endings, a byte order mark, and
bytes that are not UTF-8. Pure code, no file access.

A file configparser would refuse (a setting before any section, a line that
is not a setting, a section or an option given twice) is an error here too:
nothing is changed in a file SQL Server's own tools cannot read.
"""
from __future__ import annotations

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError
from ansible_collections.sqlauth.kerberos.plugins.module_utils._sql_instances import DEFAULT_PORT

NETWORK_SECTION = "network"
TCP_PORT_OPTION = "tcpport"
# SQL Server on Linux listens on 1433 when [network] tcpport is not set.
DEFAULT_TCP_PORT = DEFAULT_PORT

_BOM = b"\xef\xbb\xbf"


class MssqlConfError(SqlAuthError, ValueError):
    """A file that is not a valid mssql.conf; the message names the line."""


def _split_ending(raw):
    """A raw line as (content, line ending)."""
    for ending in (b"\r\n", b"\n", b"\r"):
        if raw.endswith(ending):
            return raw[:-len(ending)], ending
    return raw, b""


class _Option:
    def __init__(self, section, key, index, value_start, indent):
        self.section = section
        self.key = key
        self.index = index              # line number, 0-based
        self.value_start = value_start  # byte offset of the value in the line
        self.indent = indent
        self.continuation = []          # indexes of its continuation lines


class MssqlConf:
    """A parsed mssql.conf. ``get`` reads a setting, ``set`` returns the
    file's bytes with one setting changed."""

    def __init__(self, content, name="mssql.conf"):
        if not isinstance(content, bytes):
            raise TypeError("mssql.conf content must be bytes")
        self.content = content
        self.name = name
        self.bom = content.startswith(_BOM)
        body = content[len(_BOM):] if self.bom else content
        self.lines = body.splitlines(keepends=True)
        self.sections = {}   # name -> (header index, last index of a setting or the header)
        self.options = {}    # (section, key) -> _Option
        self._parse()

    def error_at(self, index, problem):
        """The error for a problem on line ``index`` (0-based)."""
        return MssqlConfError("%s line %d: %s; nothing was changed (fix the file, e.g. with mssql-conf)"
                              % (self.name, index + 1, problem))

    def _parse(self):
        # Bytes throughout: '=', ':', '[', ']' and white space are ASCII, and
        # no byte of a multi-byte UTF-8 sequence is ASCII, so offsets found
        # here are exact whatever the encoding of the rest of the line.
        section = None
        option = None
        for index, raw in enumerate(self.lines):
            content, dummy = _split_ending(raw)
            stripped = content.strip()
            if not stripped or stripped.startswith((b"#", b";")):
                continue
            indent = len(content) - len(content.lstrip())
            if option is not None and indent > option.indent:
                option.continuation.append(index)
                self.sections[section] = (self.sections[section][0], index)
                continue
            option = None
            shown = stripped.decode("utf-8", errors="replace")
            if stripped.startswith(b"["):
                if not stripped.endswith(b"]") or len(stripped) < 3:
                    raise self.error_at(index, "%r is not a [section] header" % shown)
                section = shown[1:-1]
                if section in self.sections:
                    raise self.error_at(index, "section [%s] appears a second time" % section)
                self.sections[section] = (index, index)
                continue
            if section is None:
                raise self.error_at(index, "%r comes before any [section] header" % shown)
            delimiters = [position for position in (content.find(b"="), content.find(b":")) if position >= 0]
            if not delimiters:
                raise self.error_at(index, "%r is neither a [section] header, a comment nor a key = value setting" % shown)
            delimiter = min(delimiters)
            key = content[:delimiter].strip().decode("utf-8", errors="replace").lower()
            if not key:
                raise self.error_at(index, "%r has no key before %r" % (shown, chr(content[delimiter])))
            if (section, key) in self.options:
                raise self.error_at(index, "%s is set a second time in section [%s]" % (key, section))
            value_start = delimiter + 1
            while content[value_start:value_start + 1] in (b" ", b"\t"):
                value_start += 1
            option = _Option(section, key, index, value_start, indent)
            self.options[(section, key)] = option
            self.sections[section] = (self.sections[section][0], index)

    def get(self, section, key):
        """The value of ``key`` in ``[section]`` as configparser reads it
        (surrounding white space removed), or None when it is not set."""
        option = self.options.get((section, key.lower()))
        if option is None:
            return None
        if option.continuation:
            raise self.error_at(option.index, "the value of %s in [%s] continues on the next line" % (key, section))
        content, dummy = _split_ending(self.lines[option.index])
        return content[option.value_start:].decode("utf-8", errors="replace").strip()

    def similar_sections(self, section):
        """Sections whose names differ from ``section`` only by case or
        white space: configparser would not read them as ``section``."""
        wanted = section.strip().lower()
        return [name for name in self.sections if name != section and name.strip().lower() == wanted]

    def set(self, section, key, value):
        """The file's bytes with ``key = value`` in ``[section]``: the value
        replaced in place when the key is set, otherwise a line added after
        the section's last setting, otherwise the section appended at the end.
        Everything else is kept byte for byte."""
        value_bytes = value.encode("utf-8")
        lines = list(self.lines)
        eol = self._line_ending()
        option = self.options.get((section, key.lower()))
        if option is not None:
            if option.continuation:
                raise self.error_at(option.index, "the value of %s in [%s] continues on the next line" % (key, section))
            content, ending = _split_ending(lines[option.index])
            lines[option.index] = content[:option.value_start] + value_bytes + ending
        elif section in self.sections:
            last = self.sections[section][1]
            content, ending = _split_ending(lines[last])
            if not ending:
                lines[last] = content + eol
            lines.insert(last + 1, key.encode("utf-8") + b" = " + value_bytes + (ending or eol))
        else:
            if lines:
                content, ending = _split_ending(lines[-1])
                if not ending:
                    lines[-1] = content + eol
                if content.strip():
                    lines.append(eol)
            lines.append(b"[" + section.encode("utf-8") + b"]" + eol)
            lines.append(key.encode("utf-8") + b" = " + value_bytes + eol)
        return (_BOM if self.bom else b"") + b"".join(lines)

    def _line_ending(self):
        """The file's line ending: that of its first line, or LF."""
        for raw in self.lines:
            dummy, ending = _split_ending(raw)
            if ending:
                return ending
        return b"\n"


def read_tcp_port(conf):
    """(value as written or None, effective port or None when the value is
    not a port number) of ``[network] tcpport``."""
    similar = conf.similar_sections(NETWORK_SECTION)
    if similar and NETWORK_SECTION not in conf.sections:
        header = conf.sections[similar[0]][0]
        raise conf.error_at(header, "section [%s] is not [%s], which SQL Server reads" % (similar[0], NETWORK_SECTION))
    raw = conf.get(NETWORK_SECTION, TCP_PORT_OPTION)
    if raw is None:
        return None, DEFAULT_TCP_PORT
    if raw.isdigit() and 1 <= int(raw) <= 65535:
        return raw, int(raw)
    return raw, None
