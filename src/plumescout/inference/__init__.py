"""Detection of plumes and estimation of the sources behind them."""

from .detect import Detection, detect_plumes, rolling_background
from .estimate import EstimatorConfig, PlumeEstimator, SourceEstimate

__all__ = [
    "Detection",
    "EstimatorConfig",
    "PlumeEstimator",
    "SourceEstimate",
    "detect_plumes",
    "rolling_background",
]
