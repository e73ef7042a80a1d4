from ._elementwise import binary


@binary("Xor", dtypes=("bool",))
def logical_xor(a, b, p):
    return a != b
