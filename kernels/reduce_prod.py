from ._elementwise import NUMBERS
from ._reduce import reduction


@reduction("ReduceProd", NUMBERS, init=lambda dt: 1)
def reduce_prod(acc, x):
    return acc * x
