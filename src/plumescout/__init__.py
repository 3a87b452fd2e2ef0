"""plumescout: find chemical emission sources from drone-borne gas measurements.

The package is layered (see DESIGN.md): pure vectorised physics (:mod:`plumescout.geo`,
:mod:`plumescout.met`, :mod:`plumescout.units`, :mod:`plumescout.dispersion`), algorithms as
small configured objects (:mod:`plumescout.inference`, :mod:`plumescout.planning`,
:mod:`plumescout.simulate`) and thin edges (:mod:`plumescout.flightlog`,
:mod:`plumescout.report`, :mod:`plumescout.cli`).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
