"""Checks behind the argument: a chapter's asserts collected into one line per section.

Every chapter states a claim in prose, computes it, and checks it with asserts that can fail.
:class:`Checks` keeps those asserts out of the reader's way: a section collects its named
conditions, and :meth:`Checks.report` asserts every one of them (naming the ones that fail) and
prints a single line, "<section>: 3 of 3 checks passed", with the list of what was checked in a
dropdown below it in the rendered book.
"""

from __future__ import annotations

import html


class CheckFailed(AssertionError):
    """A check of a chapter failed; the message names every failing check."""


class Checks:
    """Named conditions of one section of a chapter, asserted together.

    ``checks = Checks("the basis")``; ``checks["duality to 1e-12"] = err < 1e-12``; then
    ``checks.report()``. A condition must be a bool (numpy bools are accepted): a number or an
    array would hide what was meant. Names are unique within a section.
    """

    def __init__(self, section: str) -> None:
        if not isinstance(section, str) or not section.strip():
            raise ValueError(f"section must be a non-empty string, got {section!r}")
        self.section = section
        self._items: dict[str, bool] = {}

    def __setitem__(self, name: str, condition) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a check needs a non-empty name, got {name!r}")
        if name in self._items:
            raise ValueError(f"check {name!r} is already in {self.section!r}")
        if type(condition).__name__ not in ("bool", "bool_"):
            raise TypeError(
                f"check {name!r}: the condition must be a bool, got {type(condition).__name__}"
            )
        self._items[name] = bool(condition)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def failed(self) -> list[str]:
        return [name for name, ok in self._items.items() if not ok]

    def line(self) -> str:
        """The one-line verdict: "<section>: n of m checks passed"."""
        return f"{self.section}: {len(self) - len(self.failed)} of {len(self)} checks passed"

    def report(self, details: bool = True) -> None:
        """Assert every check (:class:`CheckFailed` names the failing ones), print the line.

        With ``details`` (and IPython present), the names of the checks follow as an HTML
        dropdown, which the rendered book shows collapsed. Returns None, so that a cell ending
        in ``checks.report()`` shows the line once.
        """
        if not self._items:
            raise ValueError(f"{self.section!r} has no checks")
        if self.failed:
            raise CheckFailed(f"{self.section}: failed: {'; '.join(self.failed)}")
        print(self.line())
        if details:
            try:
                from IPython.display import HTML, display
            except ImportError:  # pragma: no cover
                return
            items = "".join(f"<li>{html.escape(name)}</li>" for name in self._items)
            display(HTML(f"<details><summary>what was checked</summary><ul>{items}</ul></details>"))
