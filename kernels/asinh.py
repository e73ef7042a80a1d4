import numpy as np

from ._elementwise import unary


@unary("Asinh")
def asinh(x, alpha, beta):
    return np.arcsinh(x)
