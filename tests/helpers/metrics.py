"""kubescale's own metrics, read from a handler."""

from __future__ import annotations

import re
from collections import Counter

import kubescale


def requests(h: kubescale.ScaleHandler) -> Counter[str]:
    """kubescale's requests so far by verb (its own metric: a LIST counts as a ``get``)."""
    out: Counter[str] = Counter()
    for verb, n in re.findall(
        r'^kubescale_api_requests_total\{verb="(\w+)",code="[^"]*"\} (\S+)', h.metrics(), re.M
    ):
        out[verb] += int(float(n))
    return out
