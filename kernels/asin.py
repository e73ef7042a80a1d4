import numpy as np

from ._elementwise import unary


@unary("Asin")
def asin(x, alpha, beta):
    return np.arcsin(x)
