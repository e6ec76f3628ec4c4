"""The one request style of this API: endpoints that take the Request and return a Response.

A ``RequestRoute`` calls its endpoint as it is, without FastAPI's per-request dependency solving and response
handling (about 33 µs of CPU per request, more than the database work behind most routes; see
docs/performance.md). The endpoint reads its inputs through ``tasks_api.inputs``, checked by the same pydantic
models, with the same 422 problems FastAPI's validation gives.

FastAPI documents an endpoint from its signature. A fast-path endpoint declares what it reads and answers with
``@documented(...)``: that signature is what the OpenAPI document shows, and nothing else. So that nothing is
silently ignored, a RequestRoute refuses at build time what FastAPI would apply and this path would not:
``dependencies=`` (on the route or its router), ``status_code=`` and ``response_model=`` (which would only
document here; ``@documented`` says so), and any ``app.dependency_overrides`` entry.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import FastAPI, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, iter_route_contexts

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)
_CONTRACT = "__fastpath_contract__"


class FastPathError(RuntimeError):
    """A fast-path route was given something it would ignore."""


class Contract:
    """What ``@documented`` declared for one endpoint: its success status and body model."""

    def __init__(self, status_code: int, returns: Any) -> None:
        self.status_code = status_code
        self.returns = returns


def documented(*, status_code: int = 200, returns: Any = None, **inputs: Any) -> Callable[[E], E]:
    """Declare what the OpenAPI document shows for a fast-path endpoint: the success ``status_code``, the
    body model it ``returns``, and its ``inputs`` as FastAPI parameters (``Annotated[int, Path(...)]``,
    ``Annotated[Model, Query()]``, ``Annotated[Model, Body()]``; one whose type admits None is optional).
    Build them from the models the endpoint checks its request with, so the document cannot drift."""

    parameters = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=_default(annotation)
        )
        for name, annotation in inputs.items()
    ]

    def declare(endpoint: E) -> E:
        # FastAPI reads the signature through inspect.signature, which honours __signature__.
        endpoint.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
        setattr(endpoint, _CONTRACT, Contract(status_code, returns))
        return endpoint

    return declare


def _default(annotation: Any) -> Any:
    """An input whose type admits None is optional (default None); any other is required."""
    base = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    return None if type(None) in get_args(base) else inspect.Parameter.empty


class RequestRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response, called as it is."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        name = getattr(endpoint, "__name__", repr(endpoint))
        contract = getattr(endpoint, _CONTRACT, None)
        if not isinstance(contract, Contract):
            raise FastPathError(f"{name}: declare its inputs and answer with @fastpath.documented(...)")
        if options.get("dependencies"):
            raise FastPathError(
                f"{name}: a RequestRoute never runs dependencies=; call the function in the endpoint instead"
            )
        if options.get("status_code") is not None:
            raise FastPathError(
                f"{name}: status_code= would only document here (the endpoint returns its own Response); "
                "declare it with @documented(status_code=...)"
            )
        if not isinstance(options.get("response_model"), DefaultPlaceholder | None):
            raise FastPathError(
                f"{name}: response_model= would neither check nor filter the endpoint's Response here; "
                "declare the documented body with @documented(returns=...)"
            )
        options.update(status_code=contract.status_code, response_model=contract.returns)
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Any:
        return self.endpoint


class _RefusedOverrides(dict[Any, Any]):
    """``app.dependency_overrides`` of an app served by RequestRoutes: no route runs dependencies, so an
    override would be ignored; refuse it where it is set."""

    def __setitem__(self, key: Any, value: Any) -> None:
        raise FastPathError(_OVERRIDE_REFUSED.format(name=getattr(key, "__name__", key)))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key in dict(*args, **kwargs):
            self[key] = None

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self[key] = default


_OVERRIDE_REFUSED = (
    "dependency_overrides[{name}] would be ignored: this app's routes take the Request and call what they "
    "need directly (tasks_api.fastpath); configure the app instead (Settings, a test JWKS server)"
)


def install(app: FastAPI) -> None:
    """Refuse dependency overrides from now on, and check the routes included so far."""
    app.dependency_overrides = _RefusedOverrides()
    check(app)


def check(app: FastAPI) -> None:
    """Raise FastPathError for a RequestRoute given dependencies (by the router that included it, too) or
    for an override set on the app; run by ``create_app`` and again when the app starts."""
    for name in _overrides(app.dependency_overrides):
        raise FastPathError(_OVERRIDE_REFUSED.format(name=name))
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, RequestRoute) and context.dependencies:
            raise FastPathError(
                f"{context.path}: included with dependencies=, which a RequestRoute never runs; call the "
                "function in the endpoint instead"
            )


def _overrides(overrides: Mapping[Any, Any]) -> Iterator[str]:
    for key in overrides:
        yield getattr(key, "__name__", repr(key))
