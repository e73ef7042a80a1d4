import numpy as np

from ._elementwise import unary


@unary("Atanh")
def atanh(x, alpha, beta):
    return np.arctanh(x)
