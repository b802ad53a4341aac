# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Security descriptor parsing, SDDL and access evaluation, on descriptors
captured from the lab's Samba AD DC (fixtures/capture_security_descriptors.py)."""

from __future__ import annotations

import base64
import json
import random
import re
import struct
from pathlib import Path

import pytest

from ansible_collections.sqlauth.kerberos.plugins.module_utils._security_descriptor import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    ADS_RIGHT_DS_CONTROL_ACCESS,
    ADS_RIGHT_DS_READ_PROP,
    ADS_RIGHT_DS_SELF,
    ADS_RIGHT_DS_WRITE_PROP,
    GENERIC_ALL,
    GENERIC_WRITE,
    SELF_SID,
    SERVICE_PRINCIPAL_NAME_GUID,
    Ace,
    SecurityDescriptor,
    SecurityDescriptorError,
    guid_from_bytes,
    guid_to_bytes,
    is_canonical,
    is_granted,
    sid_from_bytes,
    sid_to_bytes,
    with_aces_added,
    with_aces_removed,
)

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "security_descriptors.json").read_text())
DOMAIN_SID = FIXTURES["domain_sid"]
CAPTURED = FIXTURES["descriptors"]

SPN_WRITE_ACES = [Ace.from_sddl("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)"),
                  Ace.from_sddl("(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)")]
DNS_HOST_NAME_VALIDATED_WRITE = "72e39547-7b18-11d1-adef-00c04fd8d5cd"
VALIDATED_WRITE_COMPUTER = "9b026da6-0d3c-465c-8bee-5199d7165cba"
USER_CHANGE_PASSWORD = "00299570-246d-11d0-a768-00aa006e0529"
TOKEN_GROUPS_GLOBAL_AND_UNIVERSAL = "b7c69e6d-2cc7-11d2-854e-00a0c983f608"
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
COMPUTER_CLASS = "bf967a86-0de6-11d0-a285-00aa003049e2"
ENTERPRISE_DOMAIN_CONTROLLERS = "S-1-5-9"
EVERYONE = "S-1-1-0"
DOMAIN_ADMINS = DOMAIN_SID + "-512"
# SDDL aliases Samba prints for domain-relative SIDs, which our renderer
# (knowing no domain) writes out in full. Single-domain forest: root = domain.
DOMAIN_RIDS = {"LA": 500, "LG": 501, "DA": 512, "DU": 513, "DG": 514, "DC": 515, "DD": 516, "CA": 517,
               "SA": 518, "EA": 519, "PA": 520, "RO": 498, "CN": 522, "AP": 525, "KA": 526, "EK": 527,
               "RS": 553}


def raw(name):
    return base64.b64decode(CAPTURED[name]["base64"])


def parsed(name):
    return SecurityDescriptor.from_bytes(raw(name))


def self_token(name):
    """SELF plus the object's own SID, as in the token of the account itself."""
    return [SELF_SID, CAPTURED[name]["object_sid"]]


def expand_domain_alias(sid):
    return "%s-%d" % (DOMAIN_SID, DOMAIN_RIDS[sid]) if sid in DOMAIN_RIDS else sid


def samba_parts(sddl):
    """Samba's SDDL split into owner, group, DACL and SACL, in our notation."""
    parts = re.fullmatch(r"(?:O:(?P<O>[^:]*?))?(?:G:(?P<G>[^:]*?))?(?:D:(?P<D>.*?))?(?:S:(?P<S>.*))?", sddl)
    normalised = {}
    for kind, text in parts.groupdict().items():
        if text is None:
            continue
        if kind in "OG":
            normalised[kind] = expand_domain_alias(text)
            continue
        flags, aces = re.fullmatch(r"([A-Z]*)((?:\(.*\))*)", text).groups()
        fields = [ace.split(";") for ace in re.findall(r"\(([^)]*)\)", aces)]
        normalised[kind] = (flags, ["(%s;%s;%s;%s;%s;%s)" % (
            ace_type, ace_flags, "0x%x" % int(rights, 16) if rights.startswith("0x") else rights,
            object_type.lower(), inherited.lower(), expand_domain_alias(sid))
            for ace_type, ace_flags, rights, object_type, inherited, sid in fields])
    return normalised


def expected_sddl(name):
    """The SDDL Samba printed, limited to the parts the capture asked for."""
    parts = samba_parts(CAPTURED[name]["samba_sddl"])
    sd_flags = CAPTURED[name]["sd_flags"]
    wanted = [kind for bit, kind in ((1, "O"), (2, "G"), (4, "D"), (8, "S")) if sd_flags is None or sd_flags & bit]
    return "".join("%s:%s" % (kind, parts[kind] if kind in "OG" else parts[kind][0] + "".join(parts[kind][1]))
                   for kind in wanted if kind in parts)


# --- binary layout ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_round_trip_is_byte_identical(name):
    assert parsed(name).to_bytes() == raw(name)


def test_samba_writes_owner_group_sacl_dacl_and_the_order_is_kept():
    descriptor = parsed("user_with_sacl")
    assert descriptor.part_order == ("owner", "group", "sacl", "dacl")
    windows_layout = SecurityDescriptor(descriptor.revision, descriptor.control, descriptor.owner_sid,
                                        descriptor.group_sid, descriptor.dacl, descriptor.sacl_bytes,
                                        descriptor.dacl_revision)
    rewritten = windows_layout.to_bytes()
    assert rewritten != raw("user_with_sacl")
    owner, group, sacl, dacl = struct.unpack_from("<BBHIIII", rewritten)[3:]
    assert 20 == sacl < dacl < owner < group
    assert SecurityDescriptor.from_bytes(rewritten) == descriptor


def test_sacl_is_kept_verbatim():
    descriptor = parsed("user_with_sacl")
    sacl_offset = struct.unpack_from("<I", raw("user_with_sacl"), 12)[0]
    assert raw("user_with_sacl")[sacl_offset:].startswith(descriptor.sacl_bytes)
    assert parsed("user_with_spn_write_aces").sacl_bytes is None
    assert descriptor.dacl == parsed("user_with_spn_write_aces").dacl


def test_dacl_only_descriptor_has_no_owner_or_group():
    descriptor = parsed("user_dacl_only")
    assert (descriptor.owner_sid, descriptor.group_sid) == (None, None)
    assert struct.unpack_from("<III", raw("user_dacl_only"), 4) == (0, 0, 0)
    assert descriptor.dacl == parsed("user_without_spn_write_aces").dacl


def test_owner_and_control_of_a_user():
    descriptor = parsed("user_with_spn_write_aces")
    assert descriptor.owner_sid == descriptor.group_sid == DOMAIN_ADMINS
    assert descriptor.control == 0x8407  # self-relative, DACL auto-inherited and present, owner/group defaulted
    assert descriptor.dacl_revision == 4


def test_building_the_delegation_descriptor_from_scratch_matches_samba():
    captured = CAPTURED["rbcd_allowed_to_act"]
    built = SecurityDescriptor(control=0x8004, owner_sid="S-1-5-32-544",
                               dacl=[Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0xF01FF, captured["principal_sid"])],
                               part_order=("owner", "group", "sacl", "dacl"))
    assert built.to_bytes() == raw("rbcd_allowed_to_act")
    assert built.to_sddl() == "O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)" % captured["principal_sid"]


def test_oversized_acl_is_refused():
    too_many = [Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0x10, "S-1-5-21-1-2-3-%d" % rid) for rid in range(3000)]
    with pytest.raises(SecurityDescriptorError):
        SecurityDescriptor(dacl=too_many).to_bytes()


def test_null_dacl_round_trips():
    null_dacl = SecurityDescriptor(control=0x8004, owner_sid="S-1-5-32-544")
    data = null_dacl.to_bytes()
    assert struct.unpack_from("<HI", data, 2) == (0x8004, 20) and data[16:20] == b"\0\0\0\0"
    assert SecurityDescriptor.from_bytes(data).to_bytes() == data
    assert null_dacl.to_sddl() == "O:BAD:NO_ACCESS_CONTROL"


# --- SDDL ------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_dacl_sddl_matches_samba_ace_by_ace(name):
    flags, samba_aces = samba_parts(CAPTURED[name]["samba_sddl"])["D"]
    assert [ace.to_sddl() for ace in parsed(name).dacl] == samba_aces
    assert parsed(name).to_sddl().split("D:", 1)[1].startswith(flags + "(")


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_descriptor_sddl_matches_samba(name):
    assert parsed(name).to_sddl() == expected_sddl(name)


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_every_captured_ace_survives_sddl_and_binary(name):
    for ace in parsed(name).dacl:
        assert Ace.from_sddl(ace.to_sddl()) == ace
        assert Ace.from_bytes(ace.to_bytes()) == (ace, len(ace.to_bytes()))


@pytest.mark.parametrize("text, ace", [
    ("(OA;;RPWP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)",
     Ace(ACCESS_ALLOWED_OBJECT_ACE_TYPE, 0, 0x30, SELF_SID, SERVICE_PRINCIPAL_NAME_GUID)),
    ("(A;;0x1200a9;;;WD)", Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0x1200A9, EVERYONE)),
    ("(A;;GA;;;SY)", Ace(ACCESS_ALLOWED_ACE_TYPE, 0, GENERIC_ALL, "S-1-5-18")),
    ("(A;;0x10000010;;;SY)", Ace(ACCESS_ALLOWED_ACE_TYPE, 0, GENERIC_ALL | ADS_RIGHT_DS_READ_PROP, "S-1-5-18")),
    ("(A;;RPGWGR;;;AU)", Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0xC0000010, "S-1-5-11")),
    ("(D;OICINPIOIDSAFA;0x1000000;;;BA)", Ace(ACCESS_DENIED_ACE_TYPE, 0xDF, 0x1000000, "S-1-5-32-544")),
    ("(OD;CIIO;WP;;bf967a86-0de6-11d0-a285-00aa003049e2;CO)",
     Ace(ACCESS_DENIED_OBJECT_ACE_TYPE, 0x0A, 0x20, "S-1-3-0", None, COMPUTER_CLASS)),
    ("(OU;CIIDSA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)",
     Ace(7, 0x52, 0x20, EVERYONE, "f30e3bbe-9ff0-11d1-b603-0000f80367c1", "bf967aa5-0de6-11d0-a285-00aa003049e2")),
    ("(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;S-1-5-21-1-2-3-500)",
     Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0xF01FF, "S-1-5-21-1-2-3-500")),
])
def test_ace_sddl_both_ways(text, ace):
    assert Ace.from_sddl(text) == ace
    assert ace.to_sddl() == text


def test_ace_sddl_reading_is_lenient_about_case_and_notation():
    ace = Ace.from_sddl(" (oa; ;rpwp;F3A64788-5306-11D1-A9C5-0000F80367C1; ;ps) ")
    assert ace == SPN_WRITE_ACES[0]
    # Full control written in hex reads the same and prints as Samba and Windows print it.
    assert Ace.from_sddl("(A;;0xf01ff;;;S-1-5-21-1-2-3-500)").to_sddl() == \
        "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;S-1-5-21-1-2-3-500)"
    assert Ace(ACCESS_ALLOWED_ACE_TYPE, 0, 0x10, "ps") == Ace.from_sddl("(A;;RP;;;PS)")


@pytest.mark.parametrize("text", [
    "", "A;;RP;;;PS", "(A;;RP;;PS)", "(XX;;RP;;;PS)", "(A;;RQ;;;PS)", "(A;;RPW;;;PS)", "(A;ZZ;RP;;;PS)",
    "(A;;0xZZ;;;PS)", "(A;;RP;;;DA)", "(A;;RP;;;S-1-5-99999999999)", "(OA;;RP;not-a-guid;;PS)",
    "(A;;RP;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)", "(XA;;RP;;;PS;(x))",
])
def test_bad_sddl_ace_is_rejected(text):
    with pytest.raises(SecurityDescriptorError):
        Ace.from_sddl(text)


# --- SIDs and GUIDs --------------------------------------------------------

@pytest.mark.parametrize("sid", ["S-1-5-21-1020015842-2994946861-1214793674-500", "S-1-5-10", "S-1-1-0",
                                 "S-1-5-32-544", "S-1-0x123456789ABC-7", "S-1-16-12288", "S-1-5"])
def test_sid_round_trip(sid):
    data = sid_to_bytes(sid)
    assert sid_from_bytes(b"xx" + data + b"yy", 2) == (sid, len(data))


def test_sid_binary_layout():
    assert sid_to_bytes("S-1-5-32-544") == bytes.fromhex("01020000000000052000000020020000")
    assert sid_to_bytes("s-1-5-10") == sid_to_bytes("S-1-5-10")


@pytest.mark.parametrize("sid", ["", "S-1", "S-2-5-10", "S-1-5-", "S-1-5-x", "S-1-5-4294967296",
                                 "S-1-281474976710656-1", "S-1-5" + "-1" * 16, None])
def test_bad_sid_string_is_rejected(sid):
    with pytest.raises(SecurityDescriptorError):
        sid_to_bytes(sid)


@pytest.mark.parametrize("data", [b"", b"\x01\x01\0\0\0\0\0\x05", b"\x02\x00\0\0\0\0\0\x05", b"\x01\x10" + b"\0" * 70])
def test_bad_binary_sid_is_rejected(data):
    with pytest.raises(SecurityDescriptorError):
        sid_from_bytes(data)


def test_guid_uses_windows_mixed_endian_layout():
    data = guid_to_bytes(SERVICE_PRINCIPAL_NAME_GUID)
    assert data == bytes.fromhex("8847a6f30653d111a9c50000f80367c1")
    assert guid_from_bytes(data) == SERVICE_PRINCIPAL_NAME_GUID
    assert data in raw("user_with_spn_write_aces")
    assert guid_to_bytes(SERVICE_PRINCIPAL_NAME_GUID.upper()) == data
    for bad in ("f3a64788", "", None):
        with pytest.raises(SecurityDescriptorError):
            guid_to_bytes(bad)
    with pytest.raises(SecurityDescriptorError):
        guid_from_bytes(data[:15])


# --- malformed descriptors -------------------------------------------------

@pytest.mark.parametrize("name", ["user_with_sacl", "user_dacl_only", "rbcd_allowed_to_act"])
def test_every_truncation_is_rejected(name):
    data = raw(name)
    for length in range(len(data)):
        with pytest.raises(SecurityDescriptorError):
            SecurityDescriptor.from_bytes(data[:length])


def corrupted(data, offset, value, fmt="<B"):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def dacl_offset(data):
    return struct.unpack_from("<I", data, 16)[0]


@pytest.mark.parametrize("corrupt", [
    pytest.param(lambda data: corrupted(data, 0, 2), id="descriptor revision"),
    pytest.param(lambda data: corrupted(data, 2, 0x0407, "<H"), id="absolute, not self-relative"),
    pytest.param(lambda data: corrupted(data, 4, 8, "<I"), id="owner inside the header"),
    pytest.param(lambda data: corrupted(data, 16, len(data) - 4, "<I"), id="DACL past the end"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data), 3), id="ACL revision"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data) + 4, 0xFFFF, "<H"), id="ACE count"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data) + 8, 0x13), id="ACE type"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data) + 10, 0xFFF0, "<H"), id="ACE size"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data) + 10, 12, "<H"), id="ACE shorter than its SID"),
    pytest.param(lambda data: corrupted(data, dacl_offset(data) + 36, 9), id="SID revision"),
])
def test_corrupt_descriptor_is_rejected(corrupt):
    data = raw("user_with_spn_write_aces")
    with pytest.raises(SecurityDescriptorError):
        SecurityDescriptor.from_bytes(corrupt(data))


def test_random_damage_raises_only_security_descriptor_error():
    generator = random.Random(20260101)
    data = raw("computer")
    for _attempt in range(2000):
        damaged = bytearray(data)
        for _mutation in range(generator.randint(1, 4)):
            damaged[generator.randrange(len(damaged))] = generator.randrange(256)
        try:
            SecurityDescriptor.from_bytes(bytes(damaged)).to_bytes()
        except SecurityDescriptorError:
            pass


# --- is_granted ------------------------------------------------------------

def test_self_can_write_spns_when_the_aces_are_there():
    dacl = parsed("user_with_spn_write_aces").dacl
    token = self_token("user_with_spn_write_aces")
    for right in (ADS_RIGHT_DS_READ_PROP, ADS_RIGHT_DS_WRITE_PROP, ADS_RIGHT_DS_SELF,
                  ADS_RIGHT_DS_WRITE_PROP | ADS_RIGHT_DS_SELF):
        assert is_granted(dacl, token, right, SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)
    assert not is_granted(dacl, token, ADS_RIGHT_DS_WRITE_PROP, DNS_HOST_NAME_VALIDATED_WRITE, USER_CLASS)


def test_self_cannot_write_spns_without_the_aces():
    dacl = parsed("user_without_spn_write_aces").dacl
    token = self_token("user_without_spn_write_aces") + ["S-1-5-11", EVERYONE, DOMAIN_SID + "-513"]
    for right in (ADS_RIGHT_DS_WRITE_PROP, ADS_RIGHT_DS_SELF):
        assert not is_granted(dacl, token, right, SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)
    # Authenticated Users may read the object's properties, SPNs included.
    assert is_granted(dacl, token, ADS_RIGHT_DS_READ_PROP, SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)
    assert is_granted(dacl, [DOMAIN_ADMINS], ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)


@pytest.mark.parametrize("name", ["computer", "gmsa"])
def test_self_has_only_the_validated_spn_write_on_computers_and_gmsas(name):
    dacl, object_class = parsed(name).dacl, CAPTURED[name]["object_class_guid"]
    token = self_token(name)
    assert is_granted(dacl, token, ADS_RIGHT_DS_SELF, SERVICE_PRINCIPAL_NAME_GUID, object_class)
    assert is_granted(dacl, token, ADS_RIGHT_DS_SELF, DNS_HOST_NAME_VALIDATED_WRITE, object_class)
    assert not is_granted(dacl, token, ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID, object_class)
    assert not is_granted(dacl, token, ADS_RIGHT_DS_WRITE_PROP | ADS_RIGHT_DS_SELF,
                          SERVICE_PRINCIPAL_NAME_GUID, object_class)


def test_deny_before_allow_wins():
    # gMSAs carry (OD;;CR;User-Change-Password;;WD) ahead of Domain Admins' full control.
    dacl = parsed("gmsa").dacl
    assert dacl[0].is_deny
    assert not is_granted(dacl, [DOMAIN_ADMINS, EVERYONE], ADS_RIGHT_DS_CONTROL_ACCESS, USER_CHANGE_PASSWORD)
    assert is_granted(dacl, [DOMAIN_ADMINS], ADS_RIGHT_DS_CONTROL_ACCESS, USER_CHANGE_PASSWORD)
    # A deny for another property leaves this one alone.
    assert is_granted(dacl, [DOMAIN_ADMINS, EVERYONE], ADS_RIGHT_DS_CONTROL_ACCESS, "ab721a53-1e2f-11d0-9819-00aa0040529b")


def test_first_ace_decides_so_a_late_deny_does_not_revoke():
    allow = Ace.from_sddl("(OA;;WP;%s;;PS)" % SERVICE_PRINCIPAL_NAME_GUID)
    deny = Ace.from_sddl("(OD;;WP;%s;;PS)" % SERVICE_PRINCIPAL_NAME_GUID)
    assert is_granted([allow, deny], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID)
    assert not is_granted([deny, allow], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID)
    # A deny for a bit already granted does not take back the rest.
    read_write = Ace.from_sddl("(A;;RPWP;;;PS)")
    assert is_granted([read_write, deny], [SELF_SID], ADS_RIGHT_DS_READ_PROP | ADS_RIGHT_DS_WRITE_PROP,
                      SERVICE_PRINCIPAL_NAME_GUID)


def test_inherit_only_aces_are_skipped():
    # The computer's copy of (OA;CI[IO]ID;SW;Validated-Write-Computer;computer;PS) applies;
    # the gMSA's, still inherit-only, does not.
    computer, gmsa = parsed("computer").dacl, parsed("gmsa").dacl
    assert is_granted(computer, [SELF_SID], ADS_RIGHT_DS_SELF, VALIDATED_WRITE_COMPUTER, COMPUTER_CLASS)
    assert not is_granted(gmsa, [SELF_SID], ADS_RIGHT_DS_SELF, VALIDATED_WRITE_COMPUTER, COMPUTER_CLASS)
    inherit_only = Ace.from_sddl("(A;CIIO;GA;;;PS)")
    assert not is_granted([inherit_only], [SELF_SID], ADS_RIGHT_DS_READ_PROP)


def test_inherited_object_type_must_match_the_objects_class():
    # (OA;CIID;RP;Token-Groups-Global-And-Universal;computer;ED) on a computer.
    dacl = parsed("computer").dacl
    token = [ENTERPRISE_DOMAIN_CONTROLLERS]
    assert is_granted(dacl, token, ADS_RIGHT_DS_READ_PROP, TOKEN_GROUPS_GLOBAL_AND_UNIVERSAL, COMPUTER_CLASS)
    assert is_granted(dacl, token, ADS_RIGHT_DS_READ_PROP, TOKEN_GROUPS_GLOBAL_AND_UNIVERSAL,
                      COMPUTER_CLASS.upper())
    assert not is_granted(dacl, token, ADS_RIGHT_DS_READ_PROP, TOKEN_GROUPS_GLOBAL_AND_UNIVERSAL, USER_CLASS)
    assert not is_granted(dacl, token, ADS_RIGHT_DS_READ_PROP, TOKEN_GROUPS_GLOBAL_AND_UNIVERSAL)


def test_object_ace_scope():
    for_spn = Ace.from_sddl("(OA;;WP;%s;;PS)" % SERVICE_PRINCIPAL_NAME_GUID)
    for_any_property = Ace.from_sddl("(OA;;WP;;;PS)")
    assert not is_granted([for_spn], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP, DNS_HOST_NAME_VALIDATED_WRITE)
    assert not is_granted([for_spn], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP)
    assert is_granted([for_any_property], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP, DNS_HOST_NAME_VALIDATED_WRITE)
    assert not is_granted([for_spn], ["S-1-5-11"], ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID)


def test_generic_rights():
    generic_all = [Ace(ACCESS_ALLOWED_ACE_TYPE, 0, GENERIC_ALL, "S-1-5-21-1-2-3-1105")]
    for right in (ADS_RIGHT_DS_WRITE_PROP | ADS_RIGHT_DS_SELF, ADS_RIGHT_DS_CONTROL_ACCESS, 0xF01FF, GENERIC_ALL):
        assert is_granted(generic_all, ["S-1-5-21-1-2-3-1105"], right, SERVICE_PRINCIPAL_NAME_GUID)
    generic_write = [Ace.from_sddl("(A;;GW;;;PS)")]
    assert is_granted(generic_write, "PS", ADS_RIGHT_DS_WRITE_PROP | ADS_RIGHT_DS_SELF, SERVICE_PRINCIPAL_NAME_GUID)
    assert is_granted(generic_write, "PS", GENERIC_WRITE)
    assert not is_granted(generic_write, "PS", ADS_RIGHT_DS_READ_PROP, SERVICE_PRINCIPAL_NAME_GUID)


def test_several_bits_must_all_be_granted_possibly_by_several_aces():
    read, write = Ace.from_sddl("(A;;RP;;;PS)"), Ace.from_sddl("(A;;WP;;;AU)")
    both = ADS_RIGHT_DS_READ_PROP | ADS_RIGHT_DS_WRITE_PROP
    assert is_granted([read, write], [SELF_SID, "S-1-5-11"], both)
    assert not is_granted([read, write], [SELF_SID], both)


def test_null_and_empty_dacl():
    assert is_granted(None, [SELF_SID], ADS_RIGHT_DS_WRITE_PROP)
    assert not is_granted([], [SELF_SID], ADS_RIGHT_DS_WRITE_PROP)


# --- editing the DACL ------------------------------------------------------

def test_adding_the_spn_aces_grants_self_and_keeps_canonical_order():
    original = parsed("user_without_spn_write_aces")
    before = original.to_bytes()
    updated = with_aces_added(original, SPN_WRITE_ACES)
    assert original.to_bytes() == before  # not mutated
    assert len(updated.dacl) == len(original.dacl) + 2 and is_canonical(updated.dacl)
    first_inherited = next(index for index, ace in enumerate(updated.dacl) if ace.is_inherited)
    assert updated.dacl[first_inherited - 2:first_inherited] == SPN_WRITE_ACES
    assert is_granted(updated.dacl, [SELF_SID], ADS_RIGHT_DS_WRITE_PROP | ADS_RIGHT_DS_SELF,
                      SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)
    assert SecurityDescriptor.from_bytes(updated.to_bytes()) == updated
    assert with_aces_added(updated, SPN_WRITE_ACES) == updated
    # Same ACEs as Samba's dsacl set gave sqlsvc1, though dsacl put them first.
    assert sorted(map(Ace.to_sddl, updated.dacl)) == sorted(map(Ace.to_sddl, parsed("user_with_spn_write_aces").dacl))


def test_adding_a_deny_puts_it_after_the_explicit_denies():
    original = parsed("gmsa")
    deny = Ace.from_sddl("(OD;;WP;%s;;PS)" % SERVICE_PRINCIPAL_NAME_GUID)
    updated = with_aces_added(original, [deny, deny])
    assert updated.dacl[:2] == [original.dacl[0], deny] and updated.dacl[2:] == original.dacl[1:]
    assert is_canonical(updated.dacl)


def test_adding_to_an_acl_without_inherited_aces_appends():
    updated = with_aces_added(parsed("rbcd_allowed_to_act"), [Ace.from_sddl("(A;;RP;;;AU)")])
    assert updated.dacl[-1] == Ace.from_sddl("(A;;RP;;;AU)")


def test_adding_inherited_or_audit_aces_is_refused():
    for ace in ("(A;ID;RP;;;AU)", "(OU;SA;WP;;;WD)"):
        with pytest.raises(SecurityDescriptorError):
            with_aces_added(parsed("user_without_spn_write_aces"), [Ace.from_sddl(ace)])


def test_removing_the_spn_aces():
    original = parsed("user_with_spn_write_aces")
    updated = with_aces_removed(original, SPN_WRITE_ACES)
    assert len(updated.dacl) == len(original.dacl) - 2
    assert not is_granted(updated.dacl, [SELF_SID], ADS_RIGHT_DS_WRITE_PROP, SERVICE_PRINCIPAL_NAME_GUID, USER_CLASS)
    assert with_aces_removed(updated, SPN_WRITE_ACES) == updated
    assert updated.dacl == parsed("user_without_spn_write_aces").dacl
    assert updated.to_bytes() == raw("user_without_spn_write_aces")


def test_removing_leaves_inherited_aces_and_unmatched_aces_alone():
    original = parsed("computer")
    inherited = [ace for ace in original.dacl if ace.is_inherited]
    assert with_aces_removed(original, inherited) == original
    assert with_aces_removed(original, [Ace.from_sddl("(OA;;RP;%s;;PS)" % SERVICE_PRINCIPAL_NAME_GUID)]) == original


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_captured_dacls_are_canonical(name):
    assert is_canonical(parsed(name).dacl)


def test_non_canonical_dacls():
    allow, deny = Ace.from_sddl("(A;;RP;;;AU)"), Ace.from_sddl("(D;;RP;;;AU)")
    inherited = Ace.from_sddl("(A;ID;RP;;;AU)")
    assert is_canonical([deny, allow, inherited]) and is_canonical(None)
    assert not is_canonical([allow, deny])
    assert not is_canonical([inherited, allow])
