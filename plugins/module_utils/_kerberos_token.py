# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the KDC put in the clear in a service ticket: its encryption type
and key version, read from the GSS-API initial token a client sends (RFC
2743 3.1 framing, RFC 1964 token ID, RFC 4120 5.5.1 AP-REQ and 5.3 Ticket).
Pure code, no I/O.

Our own reader, not pyasn1 or impacket: four fields of a fixed path are
needed, and a DER walker over tag and length is shorter than the ASN.1
specifications those libraries would need written out (pyasn1) or a heavy
dependency for one function (impacket)."""
from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError

KRB5_MECH_OID = bytes.fromhex("2a864886f712010202")  # 1.2.840.113554.1.2.2
TOK_ID_AP_REQ = b"\x01\x00"
# RFC 3961/4757/3962 encryption type numbers and names (the names klist -e shows).
ENCTYPES = {1: "des-cbc-crc", 3: "des-cbc-md5", 17: "aes128-cts-hmac-sha1-96", 18: "aes256-cts-hmac-sha1-96",
            19: "aes128-cts-hmac-sha256-128", 20: "aes256-cts-hmac-sha384-192", 23: "arcfour-hmac",
            24: "arcfour-hmac-exp"}
RC4_ENCTYPES = (23, 24)


class TokenError(SqlAuthError, ValueError):
    """Bytes that are not the Kerberos initial token they should be."""


@dataclass(frozen=True)
class TicketInfo:
    """The clear part of a service ticket: its realm, encryption type and
    the key version it was encrypted with (None when the KDC left it out)."""

    realm: str
    enctype: int
    kvno: int | None

    @property
    def enctype_name(self):
        return ENCTYPES.get(self.enctype, "enctype-%d" % self.enctype)

    @property
    def is_rc4(self):
        return self.enctype in RC4_ENCTYPES


def _tlv(data, offset):
    """(tag, start of value, end of value) of the DER element at offset."""
    if offset + 2 > len(data):
        raise TokenError("truncated at byte %d" % offset)
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or offset + count > len(data):
            raise TokenError("bad length at byte %d" % (offset - 1))
        length = int.from_bytes(data[offset:offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise TokenError("element at byte %d runs past the end" % offset)
    return tag, offset, offset + length


def _children(data, start, end):
    """{tag: (start, end)} of the elements between start and end."""
    found = {}
    while start < end:
        tag, value, stop = _tlv(data, start)
        found.setdefault(tag, (value, stop))
        start = stop
    return found


def _expect(data, offset, tag, what):
    found, start, end = _tlv(data, offset)
    if found != tag:
        raise TokenError("%s: tag 0x%02x where 0x%02x was expected" % (what, found, tag))
    return start, end


def _integer(data, span):
    start, end = _expect(data, span[0], 0x02, "INTEGER")
    return int.from_bytes(data[start:end], "big", signed=True)


def ticket_info(token):
    """TicketInfo of the service ticket inside a GSS-API Kerberos initial
    context token (what gss_init_sec_context returns first)."""
    try:
        return _ticket_info(bytes(token))
    except KeyError as error:
        raise TokenError("a required field (context tag 0x%02x) is missing" % error.args[0]) from None


def _ticket_info(data):
    start, end = _expect(data, 0, 0x60, "GSS-API initial token")
    oid_start, oid_end = _expect(data, start, 0x06, "mechanism OID")
    if data[oid_start:oid_end] != KRB5_MECH_OID:
        raise TokenError("not a Kerberos 5 token (mechanism %s)" % data[oid_start:oid_end].hex())
    if data[oid_end:oid_end + 2] != TOK_ID_AP_REQ:
        raise TokenError("not an AP-REQ (token ID %s)" % data[oid_end:oid_end + 2].hex())
    ap_start, ap_end = _expect(data, oid_end + 2, 0x6E, "AP-REQ")
    sequence = _expect(data, ap_start, 0x30, "AP-REQ body")
    ticket_field = _children(data, *sequence).get(0xA3)
    if ticket_field is None:
        raise TokenError("AP-REQ without a ticket")
    ticket = _expect(data, ticket_field[0], 0x61, "Ticket")
    fields = _children(data, *_expect(data, ticket[0], 0x30, "Ticket body"))
    realm_start, realm_end = _expect(data, fields[0xA1][0], 0x1B, "realm")
    encrypted = _children(data, *_expect(data, fields[0xA3][0], 0x30, "EncryptedData"))
    kvno = _integer(data, encrypted[0xA1]) if 0xA1 in encrypted else None
    return TicketInfo(realm=data[realm_start:realm_end].decode("utf-8", "replace"),
                      enctype=_integer(data, encrypted[0xA0]), kvno=kvno)
