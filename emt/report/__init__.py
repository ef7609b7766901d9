"""``emt analyze``: Algorithm 1 and every Figure 3 metric of a user's own Elman RNN.

Chapter "Analyse your own network"; paper Sec. 6 (Algorithm 1, Eq. 14-15), Sec. 7
(Figure 3A-D) and App. C (networks with bias, Eq. 35-37). :func:`analyze` reads the weights of a
one-layer tanh Elman RNN with a linear readout (:func:`load_weights`), infers the number of
memories s and their size kappa from the spectrum when they are not given
(:func:`emt.analysis.infer_s_kappa`), linearises a network with a hidden bias around its fixed or
operating point (:func:`emt.linearise.linearise`), runs Algorithm 1
(:func:`emt.analysis.variable_memories` with ``select="auto"``), measures the network and its null
models (:func:`emt.metrics.figure3`, as :func:`emt.nulls.compare` does) and writes a report
directory: ``report.json``, ``report.md`` and the figures 3A, 3B and 3D.

Inputs (:func:`load_weights`):

* a torch ``state_dict`` of ``nn.RNN`` (one layer, tanh: ``weight_ih_l0``, ``weight_hh_l0``,
  optional ``bias_ih_l0``, ``bias_hh_l0``; ``nn.RNNCell`` names without ``_l0`` also work) with a
  linear readout (``<name>.weight`` of shape ``(kappa, N_h)``, optional ``<name>.bias``), under any
  key prefix, also wrapped in a checkpoint dict (Lightning's ``{"state_dict": ...}``);
* a checkpoint of :mod:`emt.rnn` (the book's networks);
* ``.npz`` with ``W_hh``, ``W_uh``, ``W_r`` and optional ``b_h`` (or ``b``), ``b_r``;
* ``.safetensors`` if the ``safetensors`` package is installed.

Files are read without running code from them: ``torch.load(..., weights_only=True)`` and
``np.load(..., allow_pickle=False)``. Everything that cannot be analysed raises :class:`BadInput`
before anything is written. The nonlinearity cannot be read from the weights: it is assumed to be
tanh, and a checkpoint that says otherwise (e.g. Lightning's ``hyper_parameters`` with
``nonlinearity="relu"``) is refused.

The package follows the stages of the command: :mod:`emt.report.reading` (formats, names,
refusals), :mod:`emt.report.stages` (choose s and the linearisation, measure, nulls; and
:func:`analyze`, which runs them), :mod:`emt.report.verdict` and :mod:`emt.report.render`
(report.json, report.md, the figures). Every public name is importable from ``emt.report``.
"""

from __future__ import annotations

from emt.report.reading import (
    CONTAINERS,
    KEY_NAMES,
    NONLINEARITY_KEYS,
    WEIGHT_NAMES,
    BadInput,
    load_weights,
    parse_keys,
    read_network,
)
from emt.report.render import (
    FIGURES,
    METRIC_HELP,
    REPORT_FORMAT,
    summary,
)
from emt.report.stages import (
    ANALYSED,
    NO_CIRCUIT,
    NOT_FOUND,
    OPERATING_CRITERION,
    Choice,
    Input,
    Measured,
    Say,
    analyze,
    choose_stage,
    load_stage,
    measure_stage,
    nulls_stage,
    render_no_circuit,
    render_stage,
)
from emt.report.verdict import (
    CRITERION_METRICS,
    VERDICT_LEVEL,
    VERDICT_SPECTRUM_LEVEL,
    empirical_p,
    spread,
    verdict,
)

__all__ = [
    "WEIGHT_NAMES",
    "KEY_NAMES",
    "CONTAINERS",
    "NONLINEARITY_KEYS",
    "BadInput",
    "parse_keys",
    "load_weights",
    "read_network",
    "Say",
    "Input",
    "load_stage",
    "Choice",
    "choose_stage",
    "Measured",
    "measure_stage",
    "nulls_stage",
    "render_stage",
    "render_no_circuit",
    "NOT_FOUND",
    "NO_CIRCUIT",
    "OPERATING_CRITERION",
    "ANALYSED",
    "analyze",
    "VERDICT_LEVEL",
    "VERDICT_SPECTRUM_LEVEL",
    "CRITERION_METRICS",
    "empirical_p",
    "spread",
    "verdict",
    "REPORT_FORMAT",
    "FIGURES",
    "METRIC_HELP",
    "summary",
]
