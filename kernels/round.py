import numpy as np

from ._elementwise import unary


@unary("Round")
def round_half_even(x, alpha, beta):
    r = np.floor(x)
    d = x - r
    if d > 0.5 or (d == 0.5 and r - 2.0 * np.floor(r * 0.5) != 0):
        r += 1
    return r
