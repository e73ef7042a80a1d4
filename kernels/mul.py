from ._elementwise import NUMBERS, binary


@binary("Mul", dtypes=NUMBERS)
def mul(a, b, p):
    return a * b
