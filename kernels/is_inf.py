import numpy as np

from ._elementwise import attrs, unary


@unary("IsInf", params=attrs("detect_positive", 1, "detect_negative", 1))
def is_inf(x, alpha, beta):
    return (x == np.inf and alpha != 0) or (x == -np.inf and beta != 0)
