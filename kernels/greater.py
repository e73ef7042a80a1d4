from ._elementwise import NUMBERS, binary


@binary("Greater", dtypes=NUMBERS)
def greater(a, b, p):
    return a > b
