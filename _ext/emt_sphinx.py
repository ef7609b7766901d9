"""The EMT book's own Sphinx hook (loaded by _config.yml, sphinx.local_extensions).

Jupyter Book 1 runs sphinx-thebe's set-up twice, so every page carried its inline script
``const THEBE_JS_URL = ...`` twice, and the browser reported a SyntaxError for the second copy
on every page (found by `make check-html`); togglebutton's inline script came twice as well.
This keeps the first of the script (and stylesheet) entries that have the same file and
attributes.

It also numbers the book's own equations (B1), (B2), ...
so that they cannot be taken for the paper's Eq. 1-37, which the chapters cite by number (the
references use ``math_eqref_format: "(B{number})"`` of _config.yml).
"""

from __future__ import annotations


def _first_copies(entries):
    """The entries (scripts or stylesheets) without later copies of the same file and attributes."""
    seen, kept = set(), []
    for entry in entries:
        # an inline script's copies differ in their empty file name: None or ""
        attributes = getattr(entry, "attributes", None) or {}
        key = (str(getattr(entry, "filename", entry) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    for name in ("script_files", "css_files"):
        if context.get(name):
            context[name] = _first_copies(context[name])


EQUATION_PREFIX = "B"


def _prefixed_equation_numbers() -> None:
    """The displayed number of a numbered equation gets :data:`EQUATION_PREFIX` in front."""
    from sphinx.ext import mathjax

    plain = mathjax.get_node_equation_number
    if getattr(plain, "emt_prefixed", False):
        return

    def prefixed(writer, node):
        return f"{EQUATION_PREFIX}{plain(writer, node)}"

    prefixed.emt_prefixed = True
    mathjax.get_node_equation_number = prefixed


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    _prefixed_equation_numbers()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
