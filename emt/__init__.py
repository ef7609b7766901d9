"""emt: companion package of the executable book on the Episodic Memory Theory of RNNs.

Each function's docstring names the chapter of the book and the equation of the
paper it implements. The notebooks in ``book/`` hold the argument; this package
holds what is reused or heavy.
"""

__version__ = "0.1.0"
