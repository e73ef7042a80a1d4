from ._elementwise import NUMBERS
from ._reduce import reduction


@reduction("ReduceSumSquare", NUMBERS, init=lambda dt: 0)
def reduce_sum_square(acc, x):
    return acc + x * x
