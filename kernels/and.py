from ._elementwise import binary


@binary("And", dtypes=("bool",))
def logical_and(a, b, p):
    return a and b
