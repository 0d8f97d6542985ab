"""Import kubernetes_asyncio without its generated API classes and models until one is used.

kubernetes_asyncio's package `__init__`s import every generated API class and model: 859
modules and about 34 MiB of resident memory in every process (each `--workers` process too).
fleet sends raw JSON through `ApiClient`'s REST client and never builds a model, so it needs
five names: `ApiClient`, `Configuration`, `rest`, `exceptions` and `ApiException`.

`install()` registers the packages `kubernetes_asyncio`, `kubernetes_asyncio.client` and
`kubernetes_asyncio.client.models` with those names only. Any other name (`CoreV1Api`,
`V1ConfigMap`, `kubernetes_asyncio.config`) still works: the first use of one runs the real
package `__init__` in place, after which the package is exactly the eager one. Nothing changes
if kubernetes_asyncio was imported before `install()` ran.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import module_from_spec
from pathlib import Path
from types import ModuleType
from typing import Any

_TOP = "kubernetes_asyncio"
_CLIENT = f"{_TOP}.client"
_MODELS = f"{_CLIENT}.models"


def install() -> None:
    """Idempotent; call before anything imports kubernetes_asyncio (fleet/__init__ does)."""
    if _TOP in sys.modules:
        return
    top_spec = PathFinder.find_spec(_TOP)
    if top_spec is None or not top_spec.submodule_search_locations:
        return  # not installed: the import error comes where it is used
    client_spec = PathFinder.find_spec(_CLIENT, list(top_spec.submodule_search_locations))
    if client_spec is None or not client_spec.submodule_search_locations:
        return
    models_spec = PathFinder.find_spec(_MODELS, list(client_spec.submodule_search_locations))
    if models_spec is None:
        return
    top, client, models = (_lazy(spec) for spec in (top_spec, client_spec, models_spec))
    vars(top)["client"], vars(client)["models"] = client, models
    try:
        from kubernetes_asyncio.client import api_client, configuration, exceptions, rest
    except BaseException:
        for name in (_MODELS, _CLIENT, _TOP):
            sys.modules.pop(name, None)
        raise
    vars(client).update(
        ApiClient=api_client.ApiClient,
        Configuration=configuration.Configuration,
        ApiException=exceptions.ApiException,
        rest=rest,
        exceptions=exceptions,
    )


def _lazy(spec: ModuleSpec) -> ModuleType:
    """The package of `spec`, registered, with its `__init__` not yet run."""
    module = module_from_spec(spec)
    sys.modules[spec.name] = module

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)  # probes such as inspect's __wrapped__
        if PathFinder.find_spec(f"{spec.name}.{name}", module.__path__) is not None:
            return importlib.import_module(f"{spec.name}.{name}")  # a submodule: only it
        _load(module)
        return getattr(module, name)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _load(module: ModuleType) -> None:
    """Run the package's real `__init__` in it (once): it becomes the eager package."""
    namespace = vars(module)
    if namespace.pop("__getattr__", None) is None:
        return
    origin = module.__spec__.origin if module.__spec__ else None
    if origin is None:
        return
    code = compile(Path(origin).read_bytes(), origin, "exec", dont_inherit=True)
    exec(code, namespace)
