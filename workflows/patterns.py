"""The regular expressions of workflow definitions (parameter and input patterns, expectations
on node results), compiled one way everywhere: ASCII.

Python's ``\\d`` matches any Unicode decimal digit, so ``v\\d+\\.\\d+\\.\\d+`` accepts
``v1.4.2`` written in mathematical bold digits (U+1D7CF...) and ``\\d+s`` accepts an
Arabic-Indic three (U+0663) before the ``s``: a
look-alike version would reach the deploy system. Every pattern is compiled with ``re.ASCII``
(``\\d``, ``\\w``, ``\\s`` and ``\\b`` mean their ASCII classes), by the definition loader and
by every check, so no shipped or user workflow can regress.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["compile_pattern", "fullmatch"]


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled ASCII-only; raises ``re.error`` when it is not a regex."""
    return re.compile(pattern, re.ASCII)


def fullmatch(pattern: str, value: str) -> bool:
    """Whether all of ``value`` matches ``pattern`` (ASCII classes)."""
    return compile_pattern(pattern).fullmatch(value) is not None
