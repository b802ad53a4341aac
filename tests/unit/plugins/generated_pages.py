# -*- coding: utf-8 -*-
# Copyright: (c) 2026, sqlauth.kerberos contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docsite pages generated from code (docs/*_page.py): what the script
renders now and what is committed, for the tests that compare them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def rendered_and_committed(script, page):
    """(the text docs/SCRIPT renders, the committed docs/docsite/rst/PAGE)."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, REPO / "docs" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(), (REPO / "docs" / "docsite" / "rst" / page).read_text(encoding="utf-8")
