from ._elementwise import ALL
from ._reduce import highest, reduction


@reduction("ReduceMin", ALL, init=highest)
def reduce_min(acc, x):
    return x if x < acc or x != x else acc   # NaN wins, as in numpy.min
