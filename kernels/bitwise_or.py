from ._elementwise import INTS, binary


@binary("BitwiseOr", dtypes=INTS)
def bitwise_or(a, b, p):
    return a | b
