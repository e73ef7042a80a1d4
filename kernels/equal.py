from ._elementwise import ALL, binary


@binary("Equal", dtypes=ALL)
def equal(a, b, p):
    return a == b
