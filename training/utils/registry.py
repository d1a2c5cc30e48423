"""A name → object registry filled by a decorator (the shape of BasicSR's basicsr/utils/registry.py)."""


class Registry:
    """Registry maps names to classes or functions; `register()` is a decorator that adds one."""

    def __init__(self, name):
        self._name = name
        self._map = {}

    def register(self, name=None):
        def deco(obj):
            key = name or obj.__name__
            if key in self._map:
                raise KeyError(f"{key!r} is already registered in the {self._name} registry")
            self._map[key] = obj
            return obj

        return deco

    def get(self, name):
        try:
            return self._map[name]
        except KeyError:
            raise KeyError(f"no {name!r} in the {self._name} registry; have {sorted(self._map)}") from None

    def __contains__(self, name):
        return name in self._map

    def keys(self):
        return sorted(self._map)
