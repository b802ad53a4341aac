# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Module attributes shared by modules; a module adds its own (facts, ...) beside them.
from __future__ import annotations


class ModuleDocFragment:
    # The modules that only read (spn_facts, dns_facts, kerberos_probe, inventory_discover).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module never writes; check mode changes nothing about it.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
"""
