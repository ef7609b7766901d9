"""``emt analyze`` on the foreign zoo: networks the project did not shape (chapter "Analyse your own
network"; paper Sec. 6-7).

The zoo (``book/data/zoo``) was trained by ``scripts/train_zoo.py``, plain torch without emt's
trainer: PyTorch's default initialisation, biases, {0,1} inputs and BCE, a length curriculum.
Positives recall repeat copy; negatives are valid Elman RNNs that do something else (a 3-bit
flip-flop), nothing (an untrained network) or a random Gaussian matrix. Every negative must get
the verdict "no repeat-copy circuit found" with exit code 0. Every positive should get its s and
kappa and "circuit found"; the positives the present inference misses are marked as expected
failures (strict: the mark must go once they pass) until issue 18's calibrated inference lands.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emt import report
from emt.cli import main

#: analyses networks and reruns the zoo's own checks: left out by `make test-fast`
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "book" / "data" / "zoo"
INDEX = json.loads((ZOO / "zoo.json").read_text())["networks"]
#: the largest file the zoo may commit
MAX_BYTES = 100_000
#: positives the present analysis does not read yet (issue 18), with what it says instead
MISSED = {
    "rc_s12_k3_h96": "s and kappa right (only W_hh's spectrum has them; the two linearisations' "
    "do not), but the memory block of this W_hh in its variable-memory basis is further from "
    "Phi (block error 0.46) than an untrained orthogonal network's (median 0.37 over 20 "
    "draws): Figure 3A fails and the verdict is 'partly'",
}


def _script():
    spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "scripts" / "train_zoo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _net(name: str):
    zoo = _script()
    info = INDEX[name]
    kappa = info["kappa"]
    net = zoo.Net(kappa, info["hidden"], kappa, bias=info.get("bias", True))
    net.load_state_dict(torch.load(ZOO / f"{name}.pt", weights_only=True))
    return zoo, net


def test_the_zoo_is_small_and_complete():
    assert {i["kind"] for i in INDEX.values()} == {"positive", "negative"}
    for name in INDEX:
        size = (ZOO / f"{name}.pt").stat().st_size
        assert size < MAX_BYTES, f"{name}: {size} bytes"


@pytest.mark.parametrize("name", [n for n, i in INDEX.items() if i["task"] == "repeat copy"])
def test_positives_recall_repeat_copy(name):
    """The positives do the task: 1000 fresh sequences, every bit over 3 periods, >= 99%."""
    zoo, net = _net(name)
    info = INDEX[name]
    rng = np.random.default_rng(31)
    acc = zoo.recalled(net, rng, info["s"], info["kappa"], info["encoding"] == "pm1")
    assert info["solved"] and acc >= 0.99, f"{name}: {acc}"


def test_the_flip_flop_holds_its_bits():
    """The flip-flop negative does its own task: the sign of each channel's last pulse."""
    zoo, net = _net("flipflop_h64")
    u, y = zoo.flip_flop(np.random.default_rng(32), 200, 200, 3)
    with torch.no_grad():
        z = net(u)
    held = y != 0
    assert float(((z > 0) == (y > 0))[held].float().mean()) >= 0.95


def _positive(name):
    marks = [pytest.mark.xfail(strict=True, reason=MISSED[name])] if name in MISSED else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize(
    "name", [_positive(n) for n, i in INDEX.items() if i["kind"] == "positive"]
)
def test_positives_are_read_as_circuits(name, tmp_path):
    info = INDEX[name]
    r = report.analyze(ZOO / f"{name}.pt", out=tmp_path / name, progress=False)
    assert (r["s_kappa"]["s"], r["s_kappa"]["kappa"]) == (info["s"], info["kappa"])
    assert r["verdict"]["present"] == "yes", r["verdict"]["line"]


@pytest.mark.parametrize("name", [n for n, i in INDEX.items() if i["kind"] == "positive"])
def test_positives_get_s_kappa_and_a_verdict(name, tmp_path):
    """A network that recalls repeat copy is never refused: it gets its s and kappa, and
    "partly" at worst where the reading is imperfect."""
    info = INDEX[name]
    r = report.analyze(ZOO / f"{name}.pt", out=tmp_path / name, progress=False)
    assert (r["s_kappa"]["s"], r["s_kappa"]["kappa"]) == (info["s"], info["kappa"])
    assert r["verdict"]["present"] in ("yes", "partly"), r["verdict"]["line"]
    if name == "rc_s12_k3_h96":  # the linearisation's spectrum has no s: W_hh is analysed
        op = r["operating_point"]
        assert op["chosen"] == "W_hh" and op["candidates"]["linearisation"]["kappa"] != 3


@pytest.mark.parametrize("name", [n for n, i in INDEX.items() if i["kind"] == "negative"])
def test_negatives_get_no_circuit_and_exit_0(name, tmp_path, capsys):
    out = tmp_path / name
    assert main(["analyze", str(ZOO / f"{name}.pt"), "--out", str(out), "--no-progress"]) == 0
    verdict = json.loads((out / "report.json").read_text())["verdict"]
    assert verdict["present"] == "no" and verdict["line"].startswith(report.NO_CIRCUIT)
    assert f"verdict: {report.NO_CIRCUIT}" in capsys.readouterr().out


def test_spread_bound_is_set_by_the_zoo(tmp_path):
    """INFER_SPREAD_MAX: the memory clusters of the zoo's positives spread by at most 1.16, the
    cluster that the flip-flop's linearisation would offer (63 of its 64 eigenvalues) by 9."""
    from emt import analysis
    from emt.report import stages

    for name, info in INDEX.items():
        if info["kind"] != "positive":
            continue
        r = report.analyze(ZOO / f"{name}.pt", out=tmp_path / name, null_draws=1, progress=False)
        lo, hi = r["s_kappa"]["inference"]["cluster_moduli"]
        assert hi / lo <= 1.16 < analysis.INFER_SPREAD_MAX, name
    inp = stages.load_stage(ZOO / "flipflop_h64.pt", out=tmp_path / "ff")
    lin = stages._linearised_candidates(inp, 8)["linearisation"][0]["W_hh"]
    loose = analysis.infer_s_kappa(lin, kappa=3, spread_max=1e9)
    lo, hi = loose.cluster_moduli
    assert loose.candidate == (21, 3) and hi / lo > 5 * analysis.INFER_SPREAD_MAX
    assert analysis.infer_s_kappa(lin, kappa=3).refused
