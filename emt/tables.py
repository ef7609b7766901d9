"""Tables in the book: a pandas DataFrame shown as an HTML table, not as printed text.

A table printed with ``DataFrame.to_string()`` wraps in the rendered book once it is wider than
the content column, and its columns no longer line up. :func:`show` renders the frame as an HTML
table instead; the book's stylesheet (``_static/emt.css``) lets a wide table scroll inside the
column. The HTML is the same on every run (no random ids), so ``pytest --nbval`` can compare it,
and numbers are rounded to ``digits`` significant digits, so that the stored output does not
depend on the last bits of a computation.
"""

from __future__ import annotations

import numbers


def html(df, *, digits: int = 3, index: bool = True) -> str:
    """The HTML of ``df``: floats to ``digits`` significant digits (larger ones to whole
    numbers), integers and text as they are."""
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if not hasattr(df, "to_html"):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")

    def fmt(x):
        if isinstance(x, numbers.Integral) or not isinstance(x, numbers.Real):
            return str(x)
        if abs(x) >= 10 ** (digits - 1):  # 1683.5 -> "1684", not "1.68e+03"
            return f"{x:.0f}"
        return f"{x:.{digits}g}"

    return df.to_html(index=index, float_format=fmt, border=0, classes="emt-table", na_rep="–")


def show(df, *, digits: int = 3, index: bool = True):
    """Display ``df`` as an HTML table in a notebook (see :func:`html`); returns None."""
    from IPython.display import HTML, display

    display(HTML(html(df, digits=digits, index=index)))
