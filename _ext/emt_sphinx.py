"""The EMT book's own Sphinx hook (loaded by _config.yml, sphinx.local_extensions).

Jupyter Book 1 runs sphinx-thebe's set-up twice, so every page carried its inline script
``const THEBE_JS_URL = ...`` twice, and the browser reported a SyntaxError for the second copy
on every page (found by `make check-html`); togglebutton's inline script came twice as well.
This keeps the first of the script entries that have the same file and attributes.
"""

from __future__ import annotations


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # an inline script's copies differ in their empty file name: None or ""
        attributes = getattr(js, "attributes", None) or {}
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
