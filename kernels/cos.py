import numpy as np

from ._elementwise import unary


@unary("Cos")
def cos(x, alpha, beta):
    return np.cos(x)
