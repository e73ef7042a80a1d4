from ._elementwise import NUMBERS, binary


@binary("LessOrEqual", dtypes=NUMBERS)
def less_or_equal(a, b, p):
    return a <= b
