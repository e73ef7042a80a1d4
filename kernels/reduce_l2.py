import numpy as np

from ._elementwise import NUMBERS
from ._reduce import reduction


def root(acc, count):
    return np.sqrt(acc)


@reduction("ReduceL2", NUMBERS, init=lambda dt: 0, final=root)
def reduce_l2(acc, x):
    return acc + x * x
