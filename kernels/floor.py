import numpy as np

from ._elementwise import unary


@unary("Floor")
def floor(x, alpha, beta):
    return np.floor(x)
