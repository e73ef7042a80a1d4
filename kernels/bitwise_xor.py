from ._elementwise import INTS, binary


@binary("BitwiseXor", dtypes=INTS)
def bitwise_xor(a, b, p):
    return a ^ b
