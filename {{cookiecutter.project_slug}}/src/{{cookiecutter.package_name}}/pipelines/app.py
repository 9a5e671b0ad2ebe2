"""The HTTP API of a served model: ``POST /predict``, ``GET /health``, and every error as
``{"error": "<one line>"}``.

Bodies are parsed here rather than by a pydantic model: FastAPI's validation errors are
nested lists of details, and a client should get one line saying what to fix.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..utils.errors import DataError
from .batching import Batcher
from .inference import Predictor

log = logging.getLogger(__name__)


class RequestError(Exception):
    """A bad request: answered with ``status`` and one line, and the server goes on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number; send finite numbers")


def parse_inputs(body: bytes, max_inputs: int) -> list[Any]:
    """The ``inputs`` list of a request body, or a RequestError saying what is wrong."""
    try:
        payload = json.loads(body, parse_constant=_not_json)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RequestError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise RequestError(400, 'the body must be a JSON object {"inputs": [example, ...]}')
    inputs = payload["inputs"]
    if not isinstance(inputs, list):
        raise RequestError(400, f'"inputs" must be a list of examples, not {type(inputs).__name__}')
    if not inputs:
        raise RequestError(422, '"inputs" is empty; send at least one example')
    if len(inputs) > max_inputs:
        raise RequestError(
            413,
            f"{len(inputs)} inputs in one request; at most {max_inputs} (max_inputs): "
            "split the request",
        )
    return inputs


def describe(predictor: Predictor) -> dict[str, Any]:
    """What /health says about the model, so a client knows what to send and get back."""
    preprocessing = predictor.preprocessing
    model = predictor.module[1]
    return {
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "kind": preprocessing.kind,
        "input_shape": list(preprocessing.raw_shape),
        "keys": predictor.header(),
        "classes" if predictor.is_classifier else "outputs": predictor.names,
        "device": str(predictor.device),
        "threads": torch.get_num_threads(),
    }


def create_app(
    predictor: Predictor,
    info: dict[str, Any],
    max_batch_size: int,
    batch_timeout_ms: float,
    max_inputs: int,
    on_ready: Callable[[], None] = lambda: None,
) -> FastAPI:
    """The app for one model; ``info`` (run, checkpoint) is added to /health."""
    batcher = Batcher(
        partial(predictor, batch_size=max_batch_size), max_batch_size, batch_timeout_ms
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = asyncio.create_task(batcher.run())
        on_ready()
        yield
        worker.cancel()

    app = FastAPI(title="model server", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestError)
    async def bad_request(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        message = f"{error.detail}: {where}; the API is POST /predict and GET /health"
        return JSONResponse({"error": message}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        # A fault of the server, not the request: its traceback goes to the run's serve.log.
        log.exception("error while answering %s %s", request.method, request.url.path)
        first_line = (str(error).splitlines() or [""])[0]
        return JSONResponse(
            {"error": f"internal error ({type(error).__name__}: {first_line}); see serve.log"},
            status_code=500,
        )

    @app.get("/health")
    async def health() -> dict[str, Any]:
        stats = batcher.stats
        return {
            "status": "ok",
            **info,
            **describe(predictor),
            "batching": {
                "max_batch_size": max_batch_size,
                "batch_timeout_ms": batch_timeout_ms,
                "max_inputs": max_inputs,
                "model_calls": stats.calls,
                "examples": stats.examples,
                "largest_batch": stats.largest,
                "batch_sizes": {str(size): calls for size, calls in sorted(stats.sizes.items())},
            },
        }

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        inputs = parse_inputs(await request.body(), max_inputs)
        try:
            examples = predictor.preprocessing.from_json(inputs)
        except (DataError, TypeError, ValueError, KeyError) as error:
            raise RequestError(422, (str(error).splitlines() or [repr(error)])[0]) from None
        if not len(examples):
            raise RequestError(422, "the inputs hold no complete example for this model")
        outputs = await batcher(examples.raw)
        if not torch.isfinite(outputs).all():
            raise RequestError(
                422,
                "the model's outputs for these inputs are not finite numbers; check their range",
            )
        header = predictor.header()
        return {
            "predictions": [
                dict(zip(header, row, strict=True)) for row in predictor.rows(examples, outputs)
            ]
        }

    return app
