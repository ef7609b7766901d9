"""emt: companion package of the executable book on the Episodic Memory Theory of RNNs.

Each function's docstring names the chapter of the book and the equation of the
paper it implements. The notebooks in ``book/`` hold the argument; this package
holds what is reused or heavy.

Importing ``emt`` pins the floating-point path of torch's matrix products
(``MKL_CBWR=AVX2`` unless ``MKL_CBWR`` is set already; see :mod:`emt._numerics`),
so that a network trained from the same configuration has the same weights on
every Intel CPU with AVX2.
"""

from emt._numerics import pin_mkl_branch

pin_mkl_branch()

__version__ = "0.1.0"
