from ._elementwise import NUMBERS, unary


@unary("Sign", dtypes=NUMBERS)
def sign(x, alpha, beta):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x   # 0 stays 0, NaN stays NaN
