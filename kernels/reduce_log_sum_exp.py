"""ReduceLogSumExp, summed in float64 so that exp() of float32 inputs up to 709 cannot overflow."""
import numpy as np

from ._reduce import reduction
from .reduce_log_sum import logarithm


@reduction("ReduceLogSumExp", ("float32",), init=lambda dt: 0, final=logarithm,
           acc=lambda dt: np.dtype(np.float64))
def reduce_log_sum_exp(acc, x):
    return acc + np.exp(np.float64(x))
