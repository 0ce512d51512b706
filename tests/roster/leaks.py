"""What part of an identity number an error reason repeats (it must repeat none)."""

from __future__ import annotations

import re

# Numbers that belong to the rules themselves and may appear in any reason: the standards, the
# earliest birth year, the years first-generation resident ID cards were withdrawn and the new
# permanent residence card introduced, the permit prefixes.
_RULE_NUMBERS = re.compile(r"ISO 7064|ISO 3166|1900|2013|2023|8[123]0000")


def leaked_runs(
    number: str, reason: str, *, min_run: int = 4, ignore_rule_numbers: bool = False
) -> list[str]:
    """Every run of ``min_run`` consecutive characters of ``number`` (compacted, uppercase)
    found in ``reason``. With ``ignore_rule_numbers`` the rule's own numbers are removed from
    the reason first, so that a random number sharing four digits with "ISO 7064" does not count.
    """
    compact = "".join(number.split()).upper()
    text = _RULE_NUMBERS.sub(" ", reason) if ignore_rule_numbers else reason
    runs = {compact[i : i + min_run] for i in range(len(compact) - min_run + 1)}
    return sorted(run for run in runs if run in text.upper())
