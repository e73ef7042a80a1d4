import numpy as np

from ._elementwise import NUMBERS
from ._reduce import reduction


def mean_final(acc, count):
    if count == 0:
        return np.nan
    return acc / count


@reduction("ReduceMean", NUMBERS, init=lambda dt: 0, final=mean_final)
def reduce_mean(acc, x):
    return acc + x
