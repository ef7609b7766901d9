"""Tests of emt.formation: the reading of a network's training snapshots (chapter "The circuit
forming")."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from emt import analysis, circuits, formation, rnn

TINY = dict(s=4, kappa=2, hidden=12, n_val=50, eval_every=10, max_steps=30)


def _track(p, equal, steps=None):
    n = len(p)
    steps = np.arange(n) * 100 if steps is None else np.asarray(steps)
    z = np.zeros(n)
    return formation.Track(
        step=steps, p_value=np.asarray(p, float), counts_equal=np.asarray(equal, bool),
        inferred_s=z.astype(int), block_error=z, sequence_accuracy=np.linspace(0, 1, n),
        radius=z, eigenvalues=np.zeros((n, 3), complex),
    )  # fmt: skip


def test_lock_in_is_the_first_step_from_which_on_the_spectrum_holds():
    lv = analysis.INFER_LEVEL
    assert formation.lock_in(_track([1, 1e-9, 1, 1e-9, 1e-9], [1, 1, 1, 1, 1])) == 300
    assert formation.lock_in(_track([1e-9] * 3, [1, 1, 1])) == 0
    assert formation.lock_in(_track([1e-9, 1e-9, 1], [1, 1, 1])) is None  # lost at the end
    assert formation.lock_in(_track([1e-9, 1e-9, 1e-9], [1, 0, 1])) == 200  # counts matter
    assert formation.lock_in(_track([lv, lv], [1, 1])) == 0  # at the level: passes
    assert formation.first_step(_track([1, 1, 1], [1, 1, 1]), "sequence_accuracy", 0.5) == 100
    assert formation.first_step(_track([1, 1], [1, 1]), "sequence_accuracy", 2.0) is None


def test_track_reads_every_snapshot():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnn.CriterionWarning)
        tr = rnn.train(rnn.TrainConfig(**TINY, snapshot_every=10), progress=False)
        plain = rnn.train(rnn.TrainConfig(**TINY), progress=False)
    calls = []
    t = formation.track(tr, n_seq=20, progress=lambda i, n: calls.append((i, n)))
    n = len(tr.snapshots())
    assert list(t.step) == [0, 10, 20, 30] and calls[-1] == (n, n)
    assert all(len(getattr(t, k)) == n for k in formation.TRACK_KEYS)
    assert t.eigenvalues.shape == (n, TINY["hidden"])
    assert np.all((t.p_value >= 0) & (t.p_value <= 1))
    assert np.all((t.sequence_accuracy >= 0) & (t.sequence_accuracy <= 1))
    first = np.abs(np.linalg.eigvals(tr.snapshots()[0][1]["W_hh"])).max()
    assert t.radius[0] == pytest.approx(first)
    assert set(t.row(0)) == set(formation.TRACK_KEYS)
    with pytest.raises(ValueError, match="snapshot_every"):
        formation.track(plain)


def test_null_band_of_untrained_networks():
    band = formation.null_band(rnn.TrainConfig(**TINY), n_draws=5)
    assert set(band) == {"block_error", "p_value"}
    assert band["p_value"]["n"] == 5 and band["p_value"]["p05"] <= band["p_value"]["p95"]
    # an untrained orthogonal network has no 4-fold circuit in its spectrum
    assert band["p_value"]["median"] > analysis.INFER_LEVEL


# ------------------------------------------------------------ the grid's reading and its statistics


def test_survival_kaplan_meier_by_hand():
    # runs solved at 10, 20, 30; censored at 20 and 40
    t, s_vals = formation.survival([10, 20, 20, 30, 40], [True, True, False, True, False])
    assert list(t) == [0, 10, 20, 30]
    # at risk 5 -> 0.8; at 20, four at risk (the censored one counts) -> 0.6; at 30 two -> 0.3
    assert np.allclose(s_vals, [1.0, 0.8, 0.6, 0.3])
    assert formation.censored_median([10, 20, 20, 30, 40], [1, 1, 0, 1, 0]) == 30
    assert formation.censored_median([5, 5], [False, False]) == math.inf
    t, s_vals = formation.survival([7, 3], [True, True])  # no censoring: the empirical curve
    assert list(t) == [0, 3, 7] and np.allclose(s_vals, [1, 0.5, 0])
    with pytest.raises(ValueError):
        formation.survival([], [])
    with pytest.raises(ValueError):
        formation.survival([1, 2], [True])


def _circuit(s, kappa, n_h, seed=0, scale=0.01):
    rng = np.random.default_rng(seed)
    basis = circuits.random_basis(n_h, s * kappa, rng)
    w_hh, w_uh, w_r = circuits.circuit(circuits.repeat_copy_phi(s, kappa), basis, kappa)
    return {"W_hh": w_hh, "W_uh": scale * w_uh, "W_r": w_r / scale}


def test_read_network_finds_a_circuit_and_none_in_a_random_net():
    found = formation.read_network(_circuit(4, 3, 16, seed=1))
    assert found == {"verdict": "found", "n_passed": 3, "failed": "", "s_read": 4,
                     "analysed": "W_hh", "not_beaten": ""}  # fmt: skip
    partly = formation.read_network(_circuit(4, 3, 16, seed=0))
    # an exact circuit that, at this small size and in this basis, draws of the shuffled-W_hh
    # null match in Figure 3A and 3D (measured): the column names the null that is not beaten
    assert partly["verdict"] == "partly" and partly["not_beaten"] == "3A: shuffled; 3D: shuffled"
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(24, 24)))
    w = {"W_hh": q, "W_uh": rng.normal(size=(24, 3)) / 5, "W_r": rng.normal(size=(3, 24)) / 5}
    none = formation.read_network(w, null_draws=19)
    assert none["verdict"] == "none" and none["s_read"] == 0


def test_grid_table_summary_and_budget_check():
    pd = pytest.importorskip("pandas")
    rows, reads = [], []
    for i, (name, steps, solved, verdict) in enumerate(
        [
            ("book, orthogonal", 100, True, "found"),
            ("book, orthogonal", 300, True, "partly"),
            ("book, orthogonal", 1000, False, "none"),
            ("standard, default init", 50, True, "found"),
        ]
    ):
        h = f"h{i}"
        rows.append({"config_hash": h, "point_name": name, "s": 4, "kappa": 3, "hidden": 12,
                     "seed": i, "init": "x", "solved": solved, "steps": steps,
                     "max_steps": 1000, "eval_sequence_accuracy": 1.0})  # fmt: skip
        reads.append({"config_hash": h, "verdict": verdict, "n_passed": 0, "failed": "",
                      "s_read": 4, "analysed": "W_hh"})  # fmt: skip
    df = formation.grid_table(pd.DataFrame(rows), pd.DataFrame(reads))
    summ = formation.grid_summary(df).set_index("point_name")
    book = summ.loc["book, orthogonal"]
    assert (book.networks, book.solved, book.found, book.partly, book.unsolved_none) == (
        3, 2, 1, 1, 1
    )  # fmt: skip
    assert book.median_steps == 300  # S drops to 1/3 at 300: below one half
    check = formation.budget_check(df)
    assert not check["ok"].iloc[0]  # 10 x 300 > 1000
    assert formation.budget_check(df, factor=3)["ok"].iloc[0]
    with pytest.raises(ValueError, match="no reading"):
        formation.grid_table(pd.DataFrame(rows), pd.DataFrame(reads[:2]))


def test_grid_trends_plots_each_recipe_and_marks_censored_medians():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from emt.plotting import formation as plots

    summary = pd.DataFrame(
        [
            {"s": 4, "point_name": "a", "solved": 4, "networks": 5, "median_steps": 300.0,
             "budget": 1000, "found": 2, "partly": 1, "none": 1},
            {"s": 8, "point_name": "a", "solved": 1, "networks": 5, "median_steps": float("inf"),
             "budget": 1000, "found": 1, "partly": 0, "none": 0},
            {"s": 4, "point_name": "b", "solved": 0, "networks": 5, "median_steps": float("inf"),
             "budget": 1000, "found": 0, "partly": 0, "none": 0},
        ]
    )  # fmt: skip
    fig = plots.grid_trends(summary, ["a", "b"])
    left, right = fig.axes
    a_line = left.lines[0]
    assert list(a_line.get_ydata()) == [300.0, 1000.0]  # the censored median drawn at the budget
    assert len(left.texts) == 2  # an arrow at each censored median: (a, 8) and (b, 4)
    found = right.lines[0].get_ydata()
    assert found[0] == 0.5 and found[1] == 1.0  # 2 of 4 solved, 1 of 1 solved
    assert np.isnan(right.lines[2].get_ydata()[0])  # b solved none: no fraction
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_survival_curves_one_panel_per_size_two_a_row_from_four():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from emt.plotting import formation as plots

    def table(sizes):
        return pd.DataFrame(
            [
                {"s": s, "point_name": name, "steps": steps, "solved": steps < 1000,
                 "max_steps": 1000}
                for s in sizes
                for name in ("a", "b")
                for steps in (200, 400, 1000)
            ]
        )  # fmt: skip

    fig = plots.survival_curves(table([4, 8, 12]), ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["s = 4", "s = 8", "s = 12"]
    assert len({ax.get_position().y0 for ax in fig.axes}) == 1  # one row
    plt.close(fig)
    fig = plots.survival_curves(table([4, 8, 12, 16, 24]), ["a", "b"])
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["s = 4", "s = 8", "s = 12", "s = 16", "s = 24"]
    assert len(fig.axes) == 6 and len({round(ax.get_position().y0, 3) for ax in shown}) == 3
    assert all(len(ax.lines) == 4 for ax in shown)  # two curves, each with its censoring tick
    plt.close(fig)


def test_load_grid_tables_checks_each_table_against_its_grid(tmp_path):
    pytest.importorskip("pandas")
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "book" / "data"
    part = (
        data / "grids" / "standard_start.toml",
        data / "standard_start.csv",
        data / "standard_start_read.csv",
    )
    grid = formation.load_grid_tables([part])
    assert len(grid) == 160 and set(grid["s"]) == {4, 8}
    short = tmp_path / "short.csv"
    short.write_text("".join(open(part[1]).readlines()[:-1]))  # one network missing
    with pytest.raises(ValueError, match="159 of the 160 networks"):
        formation.load_grid_tables([(part[0], short, part[2])])
    edited = tmp_path / "standard_start.toml"
    edited.write_text(part[0].read_text() + "\n# an edit\n")
    with pytest.raises(ValueError, match="another version"):
        formation.load_grid_tables([(edited, part[1], part[2])])


@pytest.mark.parametrize("name, s", [("standard_start_s12", 12), ("standard_start_s16", 16)])
def test_each_committed_grid_table_is_whole(name, s):
    """Every committed grid table holds its grid's networks, five seeds a cell, each read."""
    pytest.importorskip("pandas")
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "book" / "data"
    grid = formation.load_grid_tables(
        [(data / "grids" / f"{name}.toml", data / f"{name}.csv", data / f"{name}_read.csv")]
    )
    cells = grid.groupby(["kappa", "hidden", "point_name"]).size()
    assert len(grid) == 80 and set(grid["s"]) == {s}
    assert len(cells) == 16 and (cells == 5).all()
    assert set(grid["verdict"]) <= {"found", "partly", "none"}
