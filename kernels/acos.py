import numpy as np

from ._elementwise import unary


@unary("Acos")
def acos(x, alpha, beta):
    return np.arccos(x)
