from ._elementwise import NUMBERS, binary


@binary("Sub", dtypes=NUMBERS)
def sub(a, b, p):
    return a - b
