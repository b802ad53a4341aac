# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Times as Active Directory writes them: FILETIME integers (accountExpires,
pwdLastSet, lockoutTime: 100 ns since 1601, UTC) and GeneralizedTime
strings (whenCreated, the rootDSE's currentTime), and the one way reports
show a time (ISO 8601, UTC). Pure code."""
from __future__ import annotations

import datetime

_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)
# 0 and the largest value both mean "never" (accountExpires) or "not set".
_NEVER = (0, 0x7FFFFFFFFFFFFFFF)


def filetime(value):
    """A FILETIME as an aware datetime, or None for never / not set and for
    values that are not one."""
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    if value in _NEVER or value < 0:
        return None
    try:
        return _FILETIME_EPOCH + datetime.timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def generalized_time(text):
    """A GeneralizedTime (20240131120000.0Z) as an aware datetime, or None."""
    try:
        return datetime.datetime.strptime(str(text).split(".", maxsplit=1)[0].rstrip("Z"), "%Y%m%d%H%M%S").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def iso(moment):
    """An aware datetime as reports show it (ISO 8601, UTC), None as None."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
