from ._elementwise import NUMBERS, unary


@unary("Abs", dtypes=NUMBERS)
def absolute(x, alpha, beta):
    return abs(x)
