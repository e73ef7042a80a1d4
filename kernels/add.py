from ._elementwise import NUMBERS, binary


@binary("Add", dtypes=NUMBERS)
def add(a, b, p):
    return a + b
