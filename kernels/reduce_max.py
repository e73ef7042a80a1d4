from ._elementwise import ALL
from ._reduce import lowest, reduction


@reduction("ReduceMax", ALL, init=lowest)
def reduce_max(acc, x):
    return x if x > acc or x != x else acc   # NaN wins, as in numpy.max
