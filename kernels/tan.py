import numpy as np

from ._elementwise import unary


@unary("Tan")
def tan(x, alpha, beta):
    return np.tan(x)
