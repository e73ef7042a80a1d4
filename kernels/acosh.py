import numpy as np

from ._elementwise import unary


@unary("Acosh")
def acosh(x, alpha, beta):
    return np.arccosh(x)
