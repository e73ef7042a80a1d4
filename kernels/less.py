from ._elementwise import NUMBERS, binary


@binary("Less", dtypes=NUMBERS)
def less(a, b, p):
    return a < b
