# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The clear part of a service ticket (_kerberos_token), on GSS-API tokens
captured from the lab KDC (fixtures/capture_kerberos_tokens.py) next to
what MIT's kvno and klist -e said of the same tickets."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._kerberos_token import TokenError, ticket_info

CAPTURED = json.loads((Path(__file__).parent / "fixtures" / "kerberos_tokens.json").read_text())


@pytest.mark.parametrize("key", sorted(CAPTURED))
def test_captured_tickets_read_as_mit_tools_read_them(key):
    captured = CAPTURED[key]
    info = ticket_info(base64.b64decode(captured["token_base64"]))
    # klist -e: "session key enctype, ticket enctype"; kvno: "SPN@REALM: kvno = N".
    assert info.enctype_name == captured["klist_etypes"].split(",")[1].strip().replace("DEPRECATED:", "")
    assert info.kvno == int(captured["kvno_says"].rsplit("kvno = ", 1)[1])
    assert info.realm == captured["realm"]
    # The directory agrees with the KDC about the key version.
    assert info.kvno == captured["key_version_number"]


def test_rc4_and_aes():
    assert ticket_info(base64.b64decode(CAPTURED["rc4_computer"]["token_base64"])).is_rc4
    aes = ticket_info(base64.b64decode(CAPTURED["aes_user"]["token_base64"]))
    assert not aes.is_rc4 and aes.enctype == 18


@pytest.mark.parametrize("mangle, message", [
    (lambda t: b"\x30" + t[1:], "GSS-API initial token: tag 0x30"),
    (lambda t: t[:20], "runs past the end|truncated"),
    (lambda t: t.replace(bytes.fromhex("2a864886f712010202"), bytes.fromhex("2b0601050502000000"), 1),
     "not a Kerberos 5 token"),
    (lambda t: b"", "truncated at byte 0"),
])
def test_what_is_not_a_kerberos_token_is_said(mangle, message):
    token = base64.b64decode(CAPTURED["aes_user"]["token_base64"])
    with pytest.raises(TokenError, match=message):
        ticket_info(mangle(token))
