# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows security descriptors as Active Directory stores them.

Parses and builds self-relative binary SECURITY_DESCRIPTORs (MS-DTYP 2.4.6)
with their ACLs and ACEs, object ACEs included (MS-DTYP 2.4.4.3), renders
them as SDDL, reads single ACEs written in SDDL, and answers "does this DACL
grant that right" the way Windows evaluates a DACL. Pure code, no I/O.

Written here rather than taken from a library: the maintained options are
either part of a large toolkit (impacket's ldaptypes, samba's ndr bindings
that only exist beside a Samba install) or lack object ACEs and access
evaluation; this module is small, has no dependencies, and is tested on
descriptors captured from a real DC (tests/unit/.../fixtures).
"""
from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass, field, replace

from ansible_collections.sqlauth.kerberos.plugins.module_utils._errors import SqlAuthError


class SecurityDescriptorError(SqlAuthError, ValueError):
    """Malformed binary descriptor, SID, GUID or SDDL text."""


SELF_SID = "S-1-5-10"

ACCESS_ALLOWED_ACE_TYPE = 0
ACCESS_DENIED_ACE_TYPE = 1
SYSTEM_AUDIT_ACE_TYPE = 2
SYSTEM_ALARM_ACE_TYPE = 3
ACCESS_ALLOWED_OBJECT_ACE_TYPE = 5
ACCESS_DENIED_OBJECT_ACE_TYPE = 6
SYSTEM_AUDIT_OBJECT_ACE_TYPE = 7
SYSTEM_ALARM_OBJECT_ACE_TYPE = 8

INHERIT_ONLY_ACE = 0x08
INHERITED_ACE = 0x10

ADS_RIGHT_DS_SELF = 0x8
ADS_RIGHT_DS_READ_PROP = 0x10
ADS_RIGHT_DS_WRITE_PROP = 0x20
ADS_RIGHT_DS_CONTROL_ACCESS = 0x100
GENERIC_ALL = 0x10000000
GENERIC_EXECUTE = 0x20000000
GENERIC_WRITE = 0x40000000
GENERIC_READ = 0x80000000

SE_DACL_PRESENT = 0x0004
SE_SACL_PRESENT = 0x0010
SE_DACL_AUTO_INHERIT_REQ = 0x0100
SE_SACL_AUTO_INHERIT_REQ = 0x0200
SE_DACL_AUTO_INHERITED = 0x0400
SE_SACL_AUTO_INHERITED = 0x0800
SE_DACL_PROTECTED = 0x1000
SE_SACL_PROTECTED = 0x2000
SE_SELF_RELATIVE = 0x8000

SERVICE_PRINCIPAL_NAME_GUID = "f3a64788-5306-11d1-a9c5-0000f80367c1"

_ACE_OBJECT_TYPE_PRESENT = 0x1
_ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2
_OBJECT_ACE_TYPES = frozenset((ACCESS_ALLOWED_OBJECT_ACE_TYPE, ACCESS_DENIED_OBJECT_ACE_TYPE,
                               SYSTEM_AUDIT_OBJECT_ACE_TYPE, SYSTEM_ALARM_OBJECT_ACE_TYPE))
_ACE_TYPE_CODES = {
    ACCESS_ALLOWED_ACE_TYPE: "A", ACCESS_DENIED_ACE_TYPE: "D", SYSTEM_AUDIT_ACE_TYPE: "AU",
    SYSTEM_ALARM_ACE_TYPE: "AL", ACCESS_ALLOWED_OBJECT_ACE_TYPE: "OA", ACCESS_DENIED_OBJECT_ACE_TYPE: "OD",
    SYSTEM_AUDIT_OBJECT_ACE_TYPE: "OU", SYSTEM_ALARM_OBJECT_ACE_TYPE: "OL",
}
_ACE_FLAG_CODES = {"OI": 0x01, "CI": 0x02, "NP": 0x04, "IO": 0x08, "ID": 0x10, "SA": 0x40, "FA": 0x80}
# The directory-service rights SDDL has mnemonics for, in the (ascending bit)
# order Windows and Samba print them.
_RIGHT_CODES = {
    "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40, "LO": 0x80, "CR": 0x100,
    "SD": 0x10000, "RC": 0x20000, "WD": 0x40000, "WO": 0x80000,
    "GA": GENERIC_ALL, "GX": GENERIC_EXECUTE, "GW": GENERIC_WRITE, "GR": GENERIC_READ,
}
_ALL_DS_RIGHTS = 0xF01FF  # CC through CR plus SD RC WD WO: "full control"
_MNEMONIC_RIGHTS = _ALL_DS_RIGHTS | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ
# How AD maps generic rights onto directory-service rights (ADS_RIGHTS_ENUM).
_GENERIC_MAPPING = {
    GENERIC_READ: 0x20094,  # RC LC RP LO
    GENERIC_WRITE: 0x20028,  # RC WP SW
    GENERIC_EXECUTE: 0x20004,  # RC LC
    GENERIC_ALL: _ALL_DS_RIGHTS,
}
# Well-known SIDs that need no domain to resolve; domain-relative aliases
# (DA, DU, EA, ...) cannot be resolved here and are printed as full SIDs.
_SID_ALIASES = {
    "WD": "S-1-1-0", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4", "NU": "S-1-5-2", "IU": "S-1-5-4",
    "SU": "S-1-5-6", "AN": "S-1-5-7", "ED": "S-1-5-9", "PS": SELF_SID, "AU": "S-1-5-11", "RC": "S-1-5-12",
    "WR": "S-1-5-33", "SY": "S-1-5-18", "LS": "S-1-5-19", "NS": "S-1-5-20",
    "BA": "S-1-5-32-544", "BU": "S-1-5-32-545", "BG": "S-1-5-32-546", "PU": "S-1-5-32-547",
    "AO": "S-1-5-32-548", "SO": "S-1-5-32-549", "PO": "S-1-5-32-550", "BO": "S-1-5-32-551",
    "RE": "S-1-5-32-552", "RU": "S-1-5-32-554", "RD": "S-1-5-32-555", "NO": "S-1-5-32-556",
    "MU": "S-1-5-32-558", "LU": "S-1-5-32-559", "IS": "S-1-5-32-568", "CY": "S-1-5-32-569",
    "ER": "S-1-5-32-573", "CD": "S-1-5-32-574", "RA": "S-1-5-32-575", "ES": "S-1-5-32-576",
    "MS": "S-1-5-32-577", "HA": "S-1-5-32-578", "AA": "S-1-5-32-579", "RM": "S-1-5-32-580",
    "AC": "S-1-15-2-1", "LW": "S-1-16-4096", "ME": "S-1-16-8192", "MP": "S-1-16-8448",
    "HI": "S-1-16-12288", "SI": "S-1-16-16384",
}
_SID_TO_ALIAS = {sid: alias for alias, sid in _SID_ALIASES.items()}
_SID_PATTERN = re.compile(r"S-1-(0x[0-9a-f]{1,12}|\d+)((?:-\d+){0,15})", re.IGNORECASE)
_ACE_PATTERN = re.compile(r"\(([^;()]*);([^;()]*);([^;()]*);([^;()]*);([^;()]*);([^;()]*)\)")
_WINDOWS_PART_ORDER = ("sacl", "dacl", "owner", "group")


def sid_from_bytes(data: bytes, offset: int = 0) -> tuple[str, int]:
    """Decode a binary SID at ``offset``; returns its string form and its length in bytes."""
    if len(data) < offset + 8:
        raise SecurityDescriptorError("SID truncated at offset %d" % offset)
    revision, count = data[offset], data[offset + 1]
    if revision != 1 or count > 15:
        raise SecurityDescriptorError("not a SID at offset %d (revision %d, %d sub-authorities)"
                                      % (offset, revision, count))
    size = 8 + 4 * count
    if len(data) < offset + size:
        raise SecurityDescriptorError("SID truncated at offset %d" % offset)
    authority = int.from_bytes(data[offset + 2:offset + 8], "big")
    # MS-DTYP 2.4.2.1: authorities that do not fit 32 bits are printed in hex.
    text = "S-1-%d" % authority if authority < 2 ** 32 else "S-1-0x%012X" % authority
    sub_authorities = struct.unpack_from("<%dI" % count, data, offset + 8)
    return text + "".join("-%d" % sub for sub in sub_authorities), size


def sid_to_bytes(sid: str) -> bytes:
    """Encode a SID string (``S-1-5-21-...``) in its binary form."""
    match = _SID_PATTERN.fullmatch(sid.strip()) if isinstance(sid, str) else None
    if not match:
        raise SecurityDescriptorError("not a SID: %r" % (sid,))
    authority = match.group(1)
    authority = int(authority, 16) if authority.lower().startswith("0x") else int(authority)
    sub_authorities = [int(sub) for sub in match.group(2).split("-")[1:]]
    if authority >= 2 ** 48 or any(sub >= 2 ** 32 for sub in sub_authorities):
        raise SecurityDescriptorError("SID component out of range: %r" % sid)
    return (bytes((1, len(sub_authorities))) + authority.to_bytes(6, "big")
            + struct.pack("<%dI" % len(sub_authorities), *sub_authorities))


def guid_from_bytes(data: bytes) -> str:
    """Decode a 16-byte GUID in Windows' mixed-endian layout (as AD stores schemaIDGUID)."""
    if len(data) != 16:
        raise SecurityDescriptorError("a GUID is 16 bytes, got %d" % len(data))
    return str(uuid.UUID(bytes_le=bytes(data)))


def guid_to_bytes(guid: str) -> bytes:
    """Encode a GUID string in Windows' mixed-endian layout."""
    try:
        return uuid.UUID(guid).bytes_le
    except (ValueError, TypeError, AttributeError) as error:
        raise SecurityDescriptorError("not a GUID: %r" % (guid,)) from error


def _normalise_guid(guid: str | None) -> str | None:
    return str(uuid.UUID(bytes_le=guid_to_bytes(guid))) if guid else None


def _sid_to_sddl(sid: str) -> str:
    return _SID_TO_ALIAS.get(sid, sid)


def _sid_from_sddl(text: str) -> str:
    alias = _SID_ALIASES.get(text.strip().upper()) if isinstance(text, str) else None
    return alias or sid_from_bytes(sid_to_bytes(text))[0]


def _codes_to_sddl(value: int, codes: dict[str, int], what: str) -> str:
    rendered = "".join(code for code, bit in codes.items() if value & bit)
    if sum(bit for bit in codes.values() if value & bit) != value:
        raise SecurityDescriptorError("%s 0x%x has no SDDL form" % (what, value))
    return rendered


def _codes_from_sddl(text: str, codes: dict[str, int], what: str) -> int:
    tokens = re.findall("..", text.upper())
    if len(text) % 2 or any(token not in codes for token in tokens):
        raise SecurityDescriptorError("bad SDDL %s %r" % (what, text))
    return sum(codes[token] for token in set(tokens))


def _expand_generic(mask: int) -> int:
    for generic, rights in _GENERIC_MAPPING.items():
        if mask & generic:
            mask = (mask & ~generic) | rights
    return mask


@dataclass(frozen=True)
class Ace:
    """One access control entry. ``sid`` may be given as an SDDL alias and the
    GUIDs in any case; they are stored as SID strings and lower-case GUIDs so
    that equal ACEs compare equal."""

    ace_type: int
    flags: int
    mask: int
    sid: str
    object_type: str | None = None
    inherited_object_type: str | None = None

    def __post_init__(self):
        if self.ace_type not in _ACE_TYPE_CODES:
            raise SecurityDescriptorError("unsupported ACE type %r" % (self.ace_type,))
        if not (0 <= self.flags < 2 ** 8 and 0 <= self.mask < 2 ** 32):
            raise SecurityDescriptorError("ACE flags or access mask out of range: %r" % (self,))
        if self.ace_type not in _OBJECT_ACE_TYPES and (self.object_type or self.inherited_object_type):
            raise SecurityDescriptorError("only object ACEs (OA, OD, OU, OL) carry object GUIDs: %r" % (self,))
        # Frozen: normalise through object.__setattr__, as dataclasses document.
        object.__setattr__(self, "sid", _sid_from_sddl(self.sid))
        for name in ("object_type", "inherited_object_type"):
            object.__setattr__(self, name, _normalise_guid(getattr(self, name)))

    @property
    def is_allow(self) -> bool:
        return self.ace_type in (ACCESS_ALLOWED_ACE_TYPE, ACCESS_ALLOWED_OBJECT_ACE_TYPE)

    @property
    def is_deny(self) -> bool:
        return self.ace_type in (ACCESS_DENIED_ACE_TYPE, ACCESS_DENIED_OBJECT_ACE_TYPE)

    @property
    def is_inherited(self) -> bool:
        return bool(self.flags & INHERITED_ACE)

    @property
    def is_inherit_only(self) -> bool:
        return bool(self.flags & INHERIT_ONLY_ACE)

    @classmethod
    def from_bytes(cls, data: bytes, offset: int = 0) -> tuple[Ace, int]:
        """Decode the ACE at ``offset``; returns it and its AceSize. Bytes an
        ACE carries beyond its SID (padding, callback data) are not kept."""
        if len(data) < offset + 8:
            raise SecurityDescriptorError("ACE truncated at offset %d" % offset)
        ace_type, flags, size, mask = struct.unpack_from("<BBHI", data, offset)
        end = offset + size
        if end > len(data):
            raise SecurityDescriptorError("ACE at offset %d overruns its ACL" % offset)
        position = offset + 8
        guids = []
        if ace_type in _OBJECT_ACE_TYPES:
            if end < position + 4:
                raise SecurityDescriptorError("object ACE truncated at offset %d" % offset)
            (object_flags,) = struct.unpack_from("<I", data, position)
            position += 4
            for present in (_ACE_OBJECT_TYPE_PRESENT, _ACE_INHERITED_OBJECT_TYPE_PRESENT):
                guids.append(guid_from_bytes(data[position:position + 16]) if object_flags & present else None)
                position += 16 if object_flags & present else 0
        sid, sid_size = sid_from_bytes(data, position)
        if position + sid_size > end:
            raise SecurityDescriptorError("ACE at offset %d is shorter than its contents" % offset)
        return cls(ace_type, flags, mask, sid, *guids), size

    def to_bytes(self) -> bytes:
        body = struct.pack("<I", self.mask)
        if self.ace_type in _OBJECT_ACE_TYPES:
            object_flags = ((_ACE_OBJECT_TYPE_PRESENT if self.object_type else 0)
                            | (_ACE_INHERITED_OBJECT_TYPE_PRESENT if self.inherited_object_type else 0))
            body += struct.pack("<I", object_flags)
            body += b"".join(guid_to_bytes(guid) for guid in (self.object_type, self.inherited_object_type) if guid)
        body += sid_to_bytes(self.sid)
        return struct.pack("<BBH", self.ace_type, self.flags, 4 + len(body)) + body

    def to_sddl(self) -> str:
        if (self.mask and not self.mask & ~_MNEMONIC_RIGHTS) or self.mask == GENERIC_ALL:
            rights = _codes_to_sddl(self.mask, _RIGHT_CODES, "access mask")
        else:
            rights = "0x%x" % self.mask
        return "(%s;%s;%s;%s;%s;%s)" % (
            _ACE_TYPE_CODES[self.ace_type], _codes_to_sddl(self.flags, _ACE_FLAG_CODES, "ACE flags"), rights,
            self.object_type or "", self.inherited_object_type or "", _sid_to_sddl(self.sid))

    @classmethod
    def from_sddl(cls, text: str) -> Ace:
        """Read one ACE written in SDDL, e.g. ``(OA;;RPWP;f3a64788-...;;PS)``."""
        match = _ACE_PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
        if not match:
            raise SecurityDescriptorError("not an SDDL ACE: %r" % (text,))
        type_code, flags, rights, object_type, inherited_object_type, sid = (part.strip() for part in match.groups())
        ace_type = next((code for code, name in _ACE_TYPE_CODES.items() if name == type_code.upper()), None)
        if ace_type is None:
            raise SecurityDescriptorError("unsupported SDDL ACE type %r" % type_code)
        if rights.lower().startswith("0x"):
            try:
                mask = int(rights, 16)
            except ValueError as error:
                raise SecurityDescriptorError("bad access mask %r" % rights) from error
        else:
            mask = _codes_from_sddl(rights, _RIGHT_CODES, "right")
        return cls(ace_type, _codes_from_sddl(flags, _ACE_FLAG_CODES, "ACE flag"), mask, sid,
                   object_type or None, inherited_object_type or None)


def _acl_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """The revision, AclSize and AceCount of the ACL at ``offset``."""
    if len(data) < offset + 8:
        raise SecurityDescriptorError("ACL truncated at offset %d" % offset)
    revision, _sbz1, size, count, _sbz2 = struct.unpack_from("<BBHHH", data, offset)
    if revision not in (2, 4) or size < 8 or offset + size > len(data):
        raise SecurityDescriptorError("bad ACL header at offset %d" % offset)
    return revision, size, count


def _acl_from_bytes(data: bytes, offset: int) -> tuple[int, list[Ace]]:
    revision, size, count = _acl_header(data, offset)
    acl = data[offset:offset + size]  # bounds the ACEs to their ACL
    aces, position = [], 8
    for _index in range(count):
        ace, ace_size = Ace.from_bytes(acl, position)
        aces.append(ace)
        position += ace_size
    return revision, aces


def _acl_to_bytes(revision: int, aces: list[Ace]) -> bytes:
    if any(ace.ace_type in _OBJECT_ACE_TYPES for ace in aces):
        revision = max(revision, 4)  # object ACEs need ACL_REVISION_DS
    body = b"".join(ace.to_bytes() for ace in aces)
    if 8 + len(body) > 0xFFFF:
        raise SecurityDescriptorError("ACL of %d bytes exceeds the 64 KiB an AclSize can express" % (8 + len(body)))
    return struct.pack("<BBHHH", revision, 0, 8 + len(body), len(aces), 0) + body


_SDDL_ACL_CONTROL = {
    "D": (SE_DACL_PRESENT, {"P": SE_DACL_PROTECTED, "AR": SE_DACL_AUTO_INHERIT_REQ, "AI": SE_DACL_AUTO_INHERITED}),
    "S": (SE_SACL_PRESENT, {"P": SE_SACL_PROTECTED, "AR": SE_SACL_AUTO_INHERIT_REQ, "AI": SE_SACL_AUTO_INHERITED}),
}


def _acl_to_sddl(kind: str, control: int, aces: list[Ace] | None) -> str:
    present, flags = _SDDL_ACL_CONTROL[kind]
    if aces is None:
        return kind + ":NO_ACCESS_CONTROL" if control & present else ""
    return (kind + ":" + "".join(code for code, bit in flags.items() if control & bit)
            + "".join(ace.to_sddl() for ace in aces))


@dataclass
class SecurityDescriptor:
    """A security descriptor. ``dacl`` None with SE_DACL_PRESENT in ``control``
    is a NULL DACL (everyone has full access); without it, no DACL at all.
    The SACL is kept as its opaque ACL bytes. ``part_order`` is the order the
    parts were found in (Samba writes owner, group, SACL, DACL; Windows SACL,
    DACL, owner, group) so that re-serialising is byte-identical."""

    revision: int = 1
    control: int = SE_SELF_RELATIVE
    owner_sid: str | None = None
    group_sid: str | None = None
    dacl: list[Ace] | None = None
    sacl_bytes: bytes | None = None
    dacl_revision: int = 4
    part_order: tuple[str, ...] = field(default=_WINDOWS_PART_ORDER, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> SecurityDescriptor:
        data = bytes(data)
        if len(data) < 20:
            raise SecurityDescriptorError("security descriptor truncated (%d bytes)" % len(data))
        revision, _sbz1, control, *offsets = struct.unpack_from("<BBHIIII", data)
        if revision != 1 or not control & SE_SELF_RELATIVE:
            raise SecurityDescriptorError("not a self-relative security descriptor revision 1")
        parts = dict(zip(("owner", "group", "sacl", "dacl"), offsets))
        if any(0 < offset < 20 for offset in offsets):
            raise SecurityDescriptorError("security descriptor part overlaps its header")
        owner_sid = sid_from_bytes(data, parts["owner"])[0] if parts["owner"] else None
        group_sid = sid_from_bytes(data, parts["group"])[0] if parts["group"] else None
        dacl, dacl_revision, sacl_bytes = None, 4, None
        if control & SE_DACL_PRESENT and parts["dacl"]:
            dacl_revision, dacl = _acl_from_bytes(data, parts["dacl"])
        if control & SE_SACL_PRESENT and parts["sacl"]:
            sacl_size = _acl_header(data, parts["sacl"])[1]
            sacl_bytes = data[parts["sacl"]:parts["sacl"] + sacl_size]
        present = sorted((offset, name) for name, offset in parts.items() if offset)
        absent = [name for name in _WINDOWS_PART_ORDER if not parts[name]]
        return cls(revision, control, owner_sid, group_sid, dacl, sacl_bytes, dacl_revision,
                   tuple(name for _offset, name in present) + tuple(absent))

    def to_bytes(self) -> bytes:
        if sorted(self.part_order) != sorted(_WINDOWS_PART_ORDER):
            raise SecurityDescriptorError("part_order must name sacl, dacl, owner and group once each")
        control = self.control | SE_SELF_RELATIVE
        control = control | SE_DACL_PRESENT if self.dacl is not None else control
        control = control | SE_SACL_PRESENT if self.sacl_bytes is not None else control
        encoded = {
            "owner": sid_to_bytes(self.owner_sid) if self.owner_sid else b"",
            "group": sid_to_bytes(self.group_sid) if self.group_sid else b"",
            "sacl": self.sacl_bytes or b"",
            "dacl": _acl_to_bytes(self.dacl_revision, self.dacl) if self.dacl is not None else b"",
        }
        offsets, body = {}, b""
        for name in self.part_order:
            offsets[name] = 20 + len(body) if encoded[name] else 0
            body += encoded[name]
        return struct.pack("<BBHIIII", self.revision, 0, control, offsets["owner"], offsets["group"],
                           offsets["sacl"], offsets["dacl"]) + body

    def to_sddl(self) -> str:
        """SDDL of the whole descriptor; the SACL's ACEs are decoded for this only."""
        sacl = _acl_from_bytes(self.sacl_bytes, 0)[1] if self.sacl_bytes is not None else None
        return ("".join("%s:%s" % (prefix, _sid_to_sddl(sid))
                        for prefix, sid in (("O", self.owner_sid), ("G", self.group_sid)) if sid)
                + _acl_to_sddl("D", self.control, self.dacl) + _acl_to_sddl("S", self.control, sacl))


def is_granted(dacl: list[Ace] | None, trustee_sids, right: int, object_type: str | None = None,
               object_class: str | None = None) -> bool:
    """Whether a token holding any of ``trustee_sids`` (SIDs or SDDL aliases)
    is granted every bit of ``right`` on property/validated write/extended
    right ``object_type`` (None: the object itself) of an object whose
    structural class has schemaIDGUID ``object_class``.

    ACEs are walked in order and the first one to mention a bit decides it, so
    a deny only wins when it comes before the allow, as in Windows. A None
    DACL is a NULL DACL, which grants everything. Property sets are not
    expanded: an ACE for a property set does not cover its member properties.
    """
    if dacl is None:
        return True
    if isinstance(trustee_sids, str):
        trustee_sids = [trustee_sids]
    trustees = {_sid_from_sddl(sid) for sid in trustee_sids}
    wanted = _normalise_guid(object_type)
    structural_class = _normalise_guid(object_class)
    undecided = _expand_generic(right)
    for ace in dacl:
        if (not (ace.is_allow or ace.is_deny) or ace.is_inherit_only or ace.sid not in trustees
                or ace.object_type not in (None, wanted)
                or ace.inherited_object_type not in (None, structural_class)):
            continue
        decided = _expand_generic(ace.mask) & undecided
        if decided and ace.is_deny:
            return False
        undecided &= ~decided
    return not undecided


def _canonical_rank(ace: Ace) -> int:
    if ace.is_inherited:
        return 2
    return 0 if ace.is_deny else 1


def is_canonical(dacl: list[Ace] | None) -> bool:
    """Whether explicit denies precede explicit allows, which precede inherited ACEs.

    The order among inherited ACEs (by generation) cannot be checked from the ACL alone.
    """
    ranks = [_canonical_rank(ace) for ace in dacl or ()]
    return ranks == sorted(ranks)


def with_aces_added(sd: SecurityDescriptor, aces) -> SecurityDescriptor:
    """A copy of ``sd`` whose DACL also holds the explicit ``aces``, each in its
    canonical place: a deny after the existing explicit denies, an allow after
    the existing explicit allows, before the inherited ACEs. ACEs already
    present are left alone. Adding to a NULL DACL starts an empty one."""
    dacl = list(sd.dacl or ())
    for ace in aces:
        if ace.is_inherited or not (ace.is_allow or ace.is_deny):
            raise SecurityDescriptorError("only explicit allow or deny ACEs can be added: %s" % ace.to_sddl())
        if ace in dacl:
            continue
        rank = _canonical_rank(ace)
        position = next((index for index, existing in enumerate(dacl) if _canonical_rank(existing) > rank),
                        len(dacl))
        dacl.insert(position, ace)
    return replace(sd, dacl=dacl)


def with_aces_removed(sd: SecurityDescriptor, aces) -> SecurityDescriptor:
    """A copy of ``sd`` without the explicit ACEs equal to any of ``aces``; inherited ones stay."""
    unwanted = set(aces)
    dacl = None if sd.dacl is None else [ace for ace in sd.dacl if ace.is_inherited or ace not in unwanted]
    return replace(sd, dacl=dacl)
