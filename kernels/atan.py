import numpy as np

from ._elementwise import unary


@unary("Atan")
def atan(x, alpha, beta):
    return np.arctan(x)
