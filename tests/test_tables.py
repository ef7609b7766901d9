"""emt.tables: DataFrames as HTML tables in the book."""

import numpy as np
import pandas as pd
import pytest

from emt import tables


def test_html_rounds_floats_and_keeps_the_rest():
    df = pd.DataFrame({"x": [0.123456, np.nan], "n": [3, 4], "name": ["a", "b"]})
    out = tables.html(df, digits=2, index=False)
    assert out.startswith("<table") and 'class="dataframe emt-table"' in out
    assert "<td>0.12</td>" in out and "0.1234" not in out
    assert "<td>3</td>" in out and "<td>a</td>" in out
    assert "<td>–</td>" in out  # a missing value
    assert out == tables.html(df, digits=2, index=False)  # no random ids
    big = tables.html(pd.DataFrame({"steps": [1683.5, 12.345, 1e-15]}), digits=3)
    assert "<td>1684</td>" in big and "<td>12.3</td>" in big and "<td>1e-15</td>" in big


@pytest.mark.parametrize("digits", [0, -1, 2.5, True])
def test_html_rejects_bad_digits(digits):
    with pytest.raises(ValueError):
        tables.html(pd.DataFrame({"x": [1.0]}), digits=digits)


def test_html_rejects_a_non_frame():
    with pytest.raises(TypeError):
        tables.html([[1, 2]])
