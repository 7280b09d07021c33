"""How many positional arguments a workflow's function takes: faastlane's rule, shared by the
embedded runtime (``bootstrap.py`` imports it as ``_faastlane_signature``) and the
benchmark's container-per-function baseline (``crates/bench/python/worker.py``), so that both
call a function the same way.

Standard library only, and ``inspect`` only when needed: a cold baseline container pays for
every import.
"""


def arity(function, default):
    """2 for ``f(event, context)``, 1 for ``f(args)``: ``default`` when that many arguments
    bind, else the other; 0 when neither does. Plain functions are read from their code
    object; anything else (builtins, bound methods, wrapped functions) goes through
    ``inspect.signature``, and a callable without one gets ``default``."""
    code = getattr(function, "__code__", None)
    if code is not None and not getattr(function, "__wrapped__", None):
        positional = code.co_argcount
        required = positional - len(function.__defaults__ or ())
        varargs = bool(code.co_flags & 0x04)
        kw_required = set(code.co_varnames[positional : positional + code.co_kwonlyargcount])
        kw_required -= set(function.__kwdefaults__ or ())
        for n in (default, 3 - default):
            if not kw_required and required <= n and (varargs or n <= positional):
                return n
        return 0
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return default
    for n in (default, 3 - default):
        try:
            signature.bind(*([None] * n))
            return n
        except TypeError:
            pass
    return 0
