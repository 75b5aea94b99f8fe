"""The README is also the package's page on PyPI, where a relative link leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_readme_link_is_absolute() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert links, "the README has links"
    relative = [link for link in links if not re.match(r"https?://", link)]
    assert relative == []
