"""``namedarraytuple``: a namedtuple of arrays that indexes like one array.

rlpyt's idea (Stooke & Abbeel, 2019): every field (numpy array, torch tensor, nested
namedarraytuple or ``None``) is indexed, sliced and assigned together, so ``samples[t, b]``
or ``buffer[t] = step`` act on the whole structure. Unlike rlpyt's, these classes pickle under
the ``spawn`` and ``forkserver`` start methods, even when they were created at run time
(for example from a gymnasium ``Dict`` space): ``__reduce__`` rebuilds the class by name and fields.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, Tuple, Union

from rlframe.errors import ShapeMismatchError

_CLASSES: Dict[Tuple[str, Tuple[str, ...]], type] = {}
RESERVED = {"get", "items", "to_dict"}


def _rebuild(typename: str, fields: Tuple[str, ...], values: tuple):
    return namedarraytuple(typename, fields)(*values)


def _shape(x: Any):
    return tuple(getattr(x, "shape", ()))


def namedarraytuple(typename: str, field_names: Union[str, Iterable[str]], defaults: Iterable[Any] = ()) -> type:
    """Return (or create, once per ``(typename, fields)``) a namedarraytuple class.

    ``defaults`` apply to the last fields, as in ``collections.namedtuple`` (e.g. ``(None,)`` for an
    optional last field).

    >>> Step = namedarraytuple("Step", ["obs", "reward"])
    >>> buf = Step(np.zeros((5, 2, 3)), np.zeros((5, 2)))
    >>> buf[0] = Step(np.ones((2, 3)), 1.0)      # writes both fields
    >>> buf[1:3].obs.shape                         # (2, 2, 3)
    """
    if isinstance(field_names, str):
        field_names = field_names.replace(",", " ").split()
    fields = tuple(field_names)
    key = (typename, fields)
    if key in _CLASSES:
        return _CLASSES[key]
    bad = RESERVED.intersection(fields)
    if bad:
        raise ValueError(f"namedarraytuple '{typename}': field names {sorted(bad)} are reserved; rename them.")
    base = namedtuple(typename, fields, defaults=tuple(defaults))

    def __getitem__(self, loc):
        if isinstance(loc, str):
            return getattr(self, loc)
        try:
            return type(self)(*(None if s is None else s[loc] for s in self))
        except IndexError as e:
            for j, s in enumerate(self):
                if s is None:
                    continue
                try:
                    s[loc]
                except IndexError:
                    raise IndexError(
                        f"{typename}.{self._fields[j]} of {_fmt_shape(s)} cannot be indexed with {loc!r}: {e}"
                    ) from None
            raise

    def __setitem__(self, loc, value):
        if not (isinstance(value, tuple) and getattr(value, "_fields", None) == self._fields):
            if isinstance(value, tuple) and hasattr(value, "_fields"):
                raise ShapeMismatchError(
                    f"{typename} buffer",
                    "fields",
                    self._fields,
                    value._fields,
                    hint="write a structure with the same fields as the buffer (built from the same example).",
                )
            value = tuple(None if s is None else value for s in self)
        for j, (s, v) in enumerate(zip(self, value)):
            if s is None or v is None:
                continue
            try:
                s[loc] = v
            except (ValueError, RuntimeError) as e:
                if isinstance(e, ShapeMismatchError):
                    raise ShapeMismatchError(
                        f"{typename} buffer", f"{self._fields[j]}.{e.field}", e.expected, e.actual, e.hint,
                        detail=getattr(e, "detail", "") or f"writing at index {_fmt_loc(loc)}",
                    ) from None
                try:
                    target = _shape(s[loc])
                except Exception:  # pragma: no cover - index itself was bad
                    target = "?"
                raise ShapeMismatchError(
                    f"{typename} buffer",
                    self._fields[j],
                    target,
                    _shape(v),
                    detail=f"writing at index {_fmt_loc(loc)}",
                    hint="the value written must have the shape the buffer was allocated for "
                    "(allocate the buffer from an example with the same shape, or fix the producer).",
                ) from None

    def __contains__(self, key):
        return key in self._fields

    def get(self, index):
        """Element of the tuple at integer position ``index`` (tuple-style access)."""
        return tuple.__getitem__(self, index)

    def items(self):
        for k, v in zip(self._fields, self):
            yield k, v

    def to_dict(self):
        return {k: v for k, v in self.items()}

    def __reduce__(self):
        return (_rebuild, (typename, fields, tuple(self)))

    cls = type(
        typename,
        (base,),
        dict(
            __getitem__=__getitem__,
            __setitem__=__setitem__,
            __contains__=__contains__,
            get=get,
            items=items,
            to_dict=to_dict,
            __reduce__=__reduce__,
            __slots__=(),
            __doc__=f"namedarraytuple {typename}{fields}",
        ),
    )
    cls.__module__ = __name__
    _CLASSES[key] = cls
    return cls


def _fmt_shape(x: Any) -> str:
    return f"shape {_shape(x)}"


def _fmt_loc(loc: Any) -> str:
    return repr(loc if not isinstance(loc, tuple) else tuple(loc))


def is_namedarraytuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields") and hasattr(type(x), "__reduce__") and type(x) in _CLASSES.values()


def is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def map_leaves(fn: Callable[[Any], Any], x: Any) -> Any:
    """Apply ``fn`` to every non-``None`` leaf of a (nested) namedtuple, keeping the structure."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):  # list comprehensions: cheaper than generators (agents' infos, every step)
        if hasattr(x, "_fields"):
            return type(x)(*[map_leaves(fn, v) for v in x])
        if not hasattr(x, "shape"):
            return type(x)([map_leaves(fn, v) for v in x])
    return fn(x)


def iter_leaves(x: Any, prefix: str = ""):
    """Yield ``(dotted_field_name, leaf)`` for every non-``None`` leaf."""
    if x is None:
        return
    if is_namedtuple(x):
        for k, v in zip(x._fields, x):
            yield from iter_leaves(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, x
