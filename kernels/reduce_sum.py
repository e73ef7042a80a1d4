from ._elementwise import NUMBERS
from ._reduce import reduction


@reduction("ReduceSum", NUMBERS, init=lambda dt: 0)
def reduce_sum(acc, x):
    return acc + x
