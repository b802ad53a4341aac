# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the errors the collection's engine raises for what a user
can act on. Each module runner (_ldap_module, _host_module) catches it once
and fails the module with its message; anything else is a bug and keeps its
traceback."""
from __future__ import annotations


# How an error says what the failing step itself wrote before the refusal
# (the guard values of _guarded_write): such a message has said it.
WRITTEN_BEFORE_REFUSAL = "written before the refusal"


class SqlAuthError(Exception):
    """A request that cannot be carried out, in words an AD administrator or
    DBA can act on. ``partial_result`` holds what a module did before
    failing, returned with the failure."""

    def __init__(self, message, partial_result=None):
        super().__init__(message)
        self.partial_result = partial_result or {}


def with_writes(error, written, partial_result=None):
    """``error`` with its message saying what the run wrote before it (each
    item of ``written`` a short sentence), or that it wrote nothing; the
    same object, so its type and attributes stay. A failed run says exactly
    what it wrote."""
    message = str(error)
    if written:
        message = "%s; this run wrote before failing: %s" % (message.replace("nothing written", "nothing more written"),
                                                             "; ".join(str(item) for item in written))
    elif ("nothing written" not in message and WRITTEN_BEFORE_REFUSAL not in message
          and not getattr(error, "uncertain", False)):
        message += "; nothing written"
    error.args = (message,)
    if partial_result is not None:
        error.partial_result = partial_result
    return error
