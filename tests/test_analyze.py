"""Tests of emt.report and ``emt analyze`` (chapter "Analyse your own network"; paper Sec. 6-7).

The networks are exact linear repeat-copy circuits (emt.circuits) in a random basis, built in the
test and stored as an ``nn.RNN`` + ``nn.Linear`` state dict, a Lightning-style checkpoint and an
``.npz``; bad inputs are made from them. The writer is scaled down (and the reader up, so the
circuit stays exact) to keep tanh in its linear range.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from emt import analysis as A
from emt import circuits as C
from emt import report
from emt.cli import main
from emt.report import BadInput

#: seed of the ``rng`` fixture (tests/conftest.py)
RNG_SEED = 7


def circuit_weights(s: int, kappa: int, n_h: int, seed: int = 0, scale: float = 0.01) -> dict:
    """Repeat copy (Eq. 12) in a random non-orthogonal basis: W_hh = B Phi B^+, exact."""
    rng = np.random.default_rng(seed)
    basis = C.random_basis(n_h, s * kappa, rng)
    w_hh, w_uh, w_r = C.circuit(C.repeat_copy_phi(s, kappa), basis, kappa)
    return {"W_hh": w_hh, "W_uh": scale * w_uh, "W_r": w_r / scale}


def state_dict(w: dict, bias: np.ndarray | None = None) -> dict:
    """The weights as the state dict of nn.RNN (tanh, one layer) followed by nn.Linear."""
    n_h, kappa = w["W_uh"].shape
    rnn = torch.nn.RNN(kappa, n_h, bias=bias is not None, batch_first=True)
    out = torch.nn.Linear(n_h, kappa, bias=False)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.from_numpy(w["W_hh"]))
        rnn.weight_ih_l0.copy_(torch.from_numpy(w["W_uh"]))
        out.weight.copy_(torch.from_numpy(w["W_r"]))
        if bias is not None:
            rnn.bias_ih_l0.copy_(torch.from_numpy(bias))
            rnn.bias_hh_l0.zero_()
    sd = {f"rnn.{k}": v for k, v in rnn.state_dict().items()}
    sd.update({f"out.{k}": v for k, v in out.state_dict().items()})
    return sd


@pytest.fixture(scope="module")
def w8():
    return circuit_weights(8, 2, 20)


@pytest.fixture(scope="module")
def pt8(tmp_path_factory, w8):
    path = tmp_path_factory.mktemp("nets") / "circuit8.pt"
    torch.save(state_dict(w8), path)
    return path


@pytest.fixture(scope="module")
def analysed8(tmp_path_factory, pt8):
    out = tmp_path_factory.mktemp("reports") / "r8"
    return report.analyze(pt8, out=out, progress=False)


# ----------------------------------------------------------------------------- loading


def test_load_state_dict(pt8, w8):
    w = report.load_weights(pt8)
    assert set(w) == {"W_hh", "W_uh", "W_r"}
    for k in w:
        np.testing.assert_allclose(w[k], w8[k], rtol=1e-6, atol=1e-6)  # float32 in the file


def test_load_lightning_prefix(tmp_path, w8):
    sd = {f"model.{k}": v for k, v in state_dict(w8).items()}
    path = tmp_path / "lit.ckpt"
    torch.save({"state_dict": sd, "epoch": 3, "hyper_parameters": {"hidden": 20}}, path)
    w, info = report.read_network(path)
    assert info["format"] == "lightning checkpoint"
    assert info["keys"]["W_hh"] == "model.rnn.weight_hh_l0"
    assert info["keys"]["W_r"] == "model.out.weight"
    np.testing.assert_allclose(w["W_r"], w8["W_r"], rtol=1e-6, atol=1e-5)


def test_load_npz_and_dict(tmp_path, w8):
    path = tmp_path / "w.npz"
    np.savez(path, **w8)
    w = report.load_weights(path)
    for k in w8:
        np.testing.assert_array_equal(w[k], w8[k])
    assert report.load_weights(w8)["W_hh"] is not w8["W_hh"]


def test_explicit_keys_resolve_ambiguous_readout(tmp_path, w8):
    sd = state_dict(w8)
    sd["aux.weight"] = sd["out.weight"].clone() * 2
    path = tmp_path / "amb.pt"
    torch.save(sd, path)
    with pytest.raises(BadInput, match="ambiguous readout.*'aux.weight'.*'out.weight'"):
        report.load_weights(path)
    w = report.load_weights(path, keys="W_r=out.weight")
    np.testing.assert_allclose(w["W_r"], w8["W_r"], rtol=1e-6, atol=1e-5)
    with pytest.raises(BadInput, match="not in the file"):
        report.load_weights(path, keys="W_r=nothing.weight")
    with pytest.raises(BadInput, match="unknown name"):
        report.parse_keys("W_x=out.weight")


def test_emt_checkpoint_payload(tmp_path, w8):
    """The payload format of emt.rnn's cache files (format, key, config, state, history, meta)."""
    sd = {
        "rnn.weight_ih_l0": torch.from_numpy(w8["W_uh"]),
        "rnn.weight_hh_l0": torch.from_numpy(w8["W_hh"]),
        "readout.weight": torch.from_numpy(w8["W_r"]),
    }
    cfg = json.dumps({"s": 8, "kappa": 2, "hidden": 20, "seed": 3, "bias": False})
    payload = {"format": 1, "key": "x", "config": cfg, "state": sd, "history": {}, "meta": {}}
    path = tmp_path / "emt.pt"
    torch.save(payload, path)
    w, info = report.read_network(path)
    assert info["format"] == "emt checkpoint" and info["hints"]["s"] == 8
    np.testing.assert_array_equal(w["W_hh"], w8["W_hh"])


# ----------------------------------------------------------------------------- bad inputs


def _bad(path, match, **kw):
    with pytest.raises(BadInput, match=match):
        report.load_weights(path, **kw)


def test_corrupt_and_truncated_files(tmp_path, pt8):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    _bad(junk, "cannot be read as a torch checkpoint")
    data = pt8.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    _bad(cut, "cannot be read")
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint\n")
    _bad(text, "cannot be read")
    _bad(tmp_path / "missing.pt", "no such file")
    npz = tmp_path / "w.npz"
    np.savez(npz, W_hh=np.eye(3))
    cutnpz = tmp_path / "cut.npz"
    cutnpz.write_bytes(npz.read_bytes()[:100])
    _bad(cutnpz, "cannot be read as .npz")
    lst = tmp_path / "list.pt"
    torch.save([1, 2, 3], lst)
    _bad(lst, "not a state dict")


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    raw = tmp_path / "evil.pt"
    with open(raw, "wb") as f:
        pickle.dump({"weight_hh_l0": _Evil(str(marker))}, f)
    _bad(raw, "cannot be read as a torch checkpoint")
    assert not marker.exists()
    zipped = tmp_path / "evil_zip.pt"
    torch.save({"state_dict": {"x": _Evil(str(marker))}}, zipped)
    if marker.exists():  # torch.save itself does not call __reduce__'s callable, but be sure
        marker.unlink()
    _bad(zipped, "objects other than tensors")
    assert not marker.exists()
    npz = tmp_path / "obj.npz"
    np.savez(npz, W_hh=np.array([_Evil(str(marker))], dtype=object))
    _bad(npz, "cannot be read as .npz")
    assert not marker.exists()


def test_wrong_shapes_nan_gru_two_layers_relu(tmp_path, w8):
    sd = state_dict(w8)
    sd["out.weight"] = torch.zeros(3, 20)  # 3 outputs, 2 inputs
    p = tmp_path / "shape.pt"
    torch.save(sd, p)
    _bad(p, "needs as many outputs as inputs")
    sd = state_dict(w8)
    sd["rnn.weight_ih_l0"] = torch.zeros(19, 2)
    torch.save(sd, p)
    _bad(p, r"W_uh .* must have shape \(20, kappa\)")
    sd = state_dict(w8, bias=np.zeros(20))
    sd["rnn.bias_hh_l0"] = torch.zeros(19)
    torch.save(sd, p)
    _bad(p, r"b_h \(b_hh = rnn.bias_hh_l0\) must have shape \(20,\)")
    sd = state_dict(w8)
    sd["rnn.weight_hh_l0"][3, 4] = float("nan")
    torch.save(sd, p)
    _bad(p, "non-finite")
    gru = torch.nn.GRU(2, 20)
    sd = {f"rnn.{k}": v for k, v in gru.state_dict().items()}
    sd["out.weight"] = torch.zeros(2, 20)
    torch.save(sd, p)
    _bad(p, "a GRU")
    lstm = torch.nn.LSTM(2, 20)
    torch.save(
        {**{f"rnn.{k}": v for k, v in lstm.state_dict().items()}, "o.weight": sd["out.weight"]}, p
    )
    _bad(p, "an LSTM")
    two = torch.nn.RNN(2, 20, num_layers=2)
    torch.save(
        {**{f"rnn.{k}": v for k, v in two.state_dict().items()}, "o.weight": sd["out.weight"]}, p
    )
    _bad(p, "several layers")
    lit = {"state_dict": state_dict(w8), "hyper_parameters": {"nonlinearity": "relu"}}
    torch.save(lit, p)
    _bad(p, "nonlinearity = 'relu'")
    npz = tmp_path / "w.npz"
    np.savez(npz, W_hh=w8["W_hh"], W_uh=w8["W_uh"])
    _bad(npz, "no linear readout")
    st = tmp_path / "w.safetensors"
    st.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    try:
        import safetensors  # noqa: F401
    except ImportError:
        _bad(st, "needs the 'safetensors' package")


def test_zero_input_weights_give_a_report_with_diagnostics(tmp_path, w8):
    w = dict(w8, W_uh=np.zeros_like(w8["W_uh"]))
    r = report.analyze(w, s=8, alpha=1.0, out=tmp_path / "z", progress=False)
    assert r["algorithm1"]["error"] and r["verdict"]["present"] != "yes"
    assert (tmp_path / "z" / "report.md").is_file()
    assert (tmp_path / "z" / report.FIGURES["3B"]).is_file()


def test_bad_options(pt8, tmp_path):
    with pytest.raises(BadInput, match="kappa = 3 does not match"):
        report.analyze(pt8, kappa=3, out=tmp_path / "x", progress=False)
    with pytest.raises(BadInput, match="exceeds the hidden size"):
        report.analyze(pt8, s=11, out=tmp_path / "x", progress=False)
    with pytest.raises(BadInput, match="alpha"):
        report.analyze(pt8, alpha=1.5, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- the analysis


def test_analyze_exact_circuit_s8(analysed8):
    r = analysed8
    out = Path(r["out"])
    assert r["s_kappa"]["s"] == 8 and r["s_kappa"]["kappa"] == 2
    assert r["s_kappa"]["source"] == "inferred" and r["s_kappa"]["p_value"] <= A.INFER_LEVEL
    net = r["metrics"]["network"]
    assert net["spectrum_counts_ok"] == 1 and net["block_error_a05"] < 1e-3
    assert net["rnd_acc_out"] >= 0.99
    assert set(r["metrics"]["nulls"]) == {
        "untrained_orth", "untrained_pytorch", "spectrum", "wrong_s", "random_uh", "shuffled",
    }  # fmt: skip
    assert all(len(v) == 20 for v in r["metrics"]["nulls"].values() if len(v) > 1)
    assert r["verdict"]["present"] == "yes"
    assert r["linearisation"] is None
    files = {p.name for p in out.iterdir()}
    assert files == {"report.json", "report.md", *report.FIGURES.values()}
    saved = json.loads((out / "report.json").read_text())
    assert saved["input"]["sha256"] == r["input"]["sha256"] and len(saved["input"]["sha256"]) == 64
    assert "torch" in saved["versions"]
    md = (out / "report.md").read_text()
    assert "Verdict" in md and "fig3b_spectrum.png" in md and "| block_error_a05 |" in md
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_infer_s4_from_npz_and_lightning(tmp_path):
    w = circuit_weights(4, 3, 16, seed=1)
    npz = tmp_path / "c4.npz"
    np.savez(npz, **w)
    r = report.analyze(npz, out=tmp_path / "r", progress=False)
    assert (r["s_kappa"]["s"], r["s_kappa"]["kappa"]) == (4, 3)
    assert r["verdict"]["present"] == "yes"
    lit = tmp_path / "c4.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in state_dict(w).items()}}, lit)
    r2 = report.analyze(lit, s=4, out=tmp_path / "r2", progress=False)
    assert r2["s_kappa"]["source"] == "given" and r2["verdict"]["present"] == "yes"


def test_a_network_without_the_circuit_gets_a_report_not_an_error(tmp_path, capsys):
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.standard_normal((16, 16)))[0]
    w = {"W_hh": q, "W_uh": 0.1 * rng.standard_normal((16, 2)), "W_r": rng.standard_normal((2, 16))}
    r = report.analyze(w, out=tmp_path / "u", progress=False)
    assert r["verdict"]["present"] == "no" and r["s_kappa"]["source"] == report.NOT_FOUND
    assert r["verdict"]["line"].startswith(report.NO_CIRCUIT) and r["metrics"] is None
    assert r["s_kappa"]["s"] is None and r["s_kappa"]["inference"]["refused"]
    md = (tmp_path / "u" / "report.md").read_text()
    assert report.NO_CIRCUIT in md and "Pass --s S" in md
    assert json.loads((tmp_path / "u" / "report.json").read_text())["verdict"]["present"] == "no"
    npz = tmp_path / "u.npz"
    np.savez(npz, **w)
    assert main(["analyze", str(npz), "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "s and kappa: not found" in out and f"verdict: {report.NO_CIRCUIT}" in out
    given = report.analyze(w, s=4, out=tmp_path / "g", progress=False)  # the user's s is taken
    assert given["s_kappa"]["source"] == "given" and given["metrics"] is not None
    r = report.analyze(w, s=4, out=tmp_path / "u", progress=False)
    assert r["verdict"]["present"] != "yes"


def test_biased_network(tmp_path, w8):
    # a bias in the kernel of W_hh: the fixed point stays near 0 and J = D W_hh near W_hh
    kernel = np.linalg.svd(w8["W_hh"])[2][16:]  # (4, 20): W_hh has rank s*kappa = 16
    b = 0.1 * kernel.T @ np.random.default_rng(3).standard_normal(4)
    path = tmp_path / "bias.pt"
    torch.save(state_dict(w8, bias=b), path)
    r = report.analyze(path, out=tmp_path / "rb", progress=False)
    lin = r["linearisation"]
    assert lin is not None and lin["kind"] in ("fixed_point", "operating_point")
    op = r["operating_point"]
    assert r["input"]["has_hidden_bias"] and r["analysed"] == report.ANALYSED[op["chosen"]]
    assert r["s_kappa"]["s"] == 8
    assert (tmp_path / "rb" / "report.json").is_file()


def test_rerun_replaces_report_and_refuses_foreign_dir(analysed8, pt8, tmp_path):
    out = Path(analysed8["out"])
    r = report.analyze(pt8, s=8, out=out, progress=False)
    assert r["s_kappa"]["source"] == "given"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(BadInput, match="refusing to overwrite"):
        report.analyze(pt8, out=foreign, progress=False)
    assert (foreign / "keep.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- the command line


def test_cli_good_input(pt8, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["analyze", str(pt8), "--out", str(out), "--alpha", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "s = 8, kappa = 2 (inferred" in captured.out and "verdict:" in captured.out
    assert "emt analyze:" in captured.err  # progress lines
    assert (out / "report.md").is_file() and (out / "fig3a_basis.png").is_file()


@pytest.mark.parametrize("case", ["corrupt", "ambiguous", "gru", "nan"])
def test_cli_bad_input_exit_2(case, tmp_path, w8, capsys):
    path = tmp_path / "bad.pt"
    if case == "corrupt":
        path.write_bytes(b"\x80\x02garbage" * 50)
    elif case == "ambiguous":
        sd = state_dict(w8)
        sd["aux.weight"] = sd["out.weight"].clone()
        torch.save(sd, path)
    elif case == "gru":
        sd = {f"g.{k}": v for k, v in torch.nn.GRU(2, 20).state_dict().items()}
        torch.save({**sd, "o.weight": torch.zeros(2, 20)}, path)
    else:
        sd = state_dict(w8)
        sd["out.weight"][0, 0] = float("inf")
        torch.save(sd, path)
    out = tmp_path / "never"
    assert main(["analyze", str(path), "--out", str(out), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("emt analyze: error: ") and captured.out == ""
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.pt"]


def test_cli_keys_option(tmp_path, w8, capsys):
    sd = state_dict(w8)
    sd["aux.weight"] = sd["out.weight"].clone()
    path = tmp_path / "amb.pt"
    torch.save(sd, path)
    out = tmp_path / "k"
    code = main(
        ["analyze", str(path), "--keys", "W_r=out.weight", "--out", str(out), "--no-progress"]
    )
    assert code == 0 and (out / "report.json").is_file()
    assert main(["analyze", str(path), "--keys", "garbage", "--no-progress"]) == 2
    assert "NAME=KEY" in capsys.readouterr().err


@pytest.mark.slow
def test_book_network(tmp_path):
    """The book's network (s = 16, kappa = 5, 128 units), with 20 draws of every null model.

    It comes from the network cache the chapters use (``$EMT_CACHE_DIR`` or ``.cache/emt``),
    and is trained there first if missing (about a minute).
    """
    from emt import nulls, rnn

    book_net = rnn.get_trained(rnn.TrainConfig(), progress=False).path
    r = report.analyze(book_net, out=tmp_path / "book", progress=False)
    assert r["input"]["format"] == "emt checkpoint" and r["metrics"]["null_draws"] == 20
    assert all(len(r["metrics"]["nulls"][k]) == 20 for k in nulls.DRAWN_MODELS)
    assert (r["s_kappa"]["s"], r["s_kappa"]["kappa"]) == (16, 5)
    assert r["verdict"]["present"] == "yes"
