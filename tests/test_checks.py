"""Tests of emt.checks (the chapters' collected checks)."""

import numpy as np
import pytest

from emt.checks import CheckFailed, Checks


def test_report_prints_one_line_and_asserts(capsys):
    c = Checks("the basis")
    c["duality"] = True
    c["not orthogonal"] = np.float64(0.3) > 0.1  # a numpy bool
    assert c.report(details=False) is None
    assert capsys.readouterr().out == "the basis: 2 of 2 checks passed\n"


def test_a_failing_check_is_named():
    c = Checks("s")
    c["good"] = True
    c["bad one"] = False
    c["bad two"] = np.bool_(False)
    with pytest.raises(CheckFailed, match="bad one; bad two"):
        c.report(details=False)
    assert c.line() == "s: 1 of 3 checks passed"


def test_bad_input():
    with pytest.raises(ValueError):
        Checks("")
    c = Checks("x")
    with pytest.raises(TypeError, match="must be a bool"):
        c["a number"] = 0.5
    with pytest.raises(TypeError, match="must be a bool"):
        c["an array"] = np.array([True, True])
    c["once"] = True
    with pytest.raises(ValueError, match="already"):
        c["once"] = True
    with pytest.raises(ValueError, match="no checks"):
        Checks("empty").report()


def test_details_are_an_html_dropdown(capsys):
    pytest.importorskip("IPython")
    c = Checks("d")
    c["a < b"] = True
    c.report(details=True)
    out = capsys.readouterr().out
    assert out.startswith("d: 1 of 1 checks passed\n")
