from ._elementwise import NUMBERS
from ._reduce import reduction


@reduction("ReduceL1", NUMBERS, init=lambda dt: 0)
def reduce_l1(acc, x):
    return acc + abs(x)
