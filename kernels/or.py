from ._elementwise import binary


@binary("Or", dtypes=("bool",))
def logical_or(a, b, p):
    return a or b
