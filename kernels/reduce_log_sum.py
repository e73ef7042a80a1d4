import numpy as np

from ._reduce import reduction


def logarithm(acc, count):
    return np.log(acc)


@reduction("ReduceLogSum", ("float32",), init=lambda dt: 0, final=logarithm)
def reduce_log_sum(acc, x):
    return acc + x
