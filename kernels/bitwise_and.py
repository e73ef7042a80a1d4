from ._elementwise import INTS, binary


@binary("BitwiseAnd", dtypes=INTS)
def bitwise_and(a, b, p):
    return a & b
