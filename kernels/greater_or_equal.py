from ._elementwise import NUMBERS, binary


@binary("GreaterOrEqual", dtypes=NUMBERS)
def greater_or_equal(a, b, p):
    return a >= b
