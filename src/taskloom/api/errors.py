"""The only place that turns taskloom errors into HTTP responses, in FastAPI's error shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from taskloom import errors

logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: dict[type[Exception], int] = {
    errors.Unauthenticated: 401,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidRequest: 422,
    errors.PayloadTooLarge: 413,
    errors.RateLimited: 429,
    errors.StoreUnavailable: 503,
}


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:  # the most specific class wins
        if (status := _STATUS_BY_ERROR.get(cls)) is not None:
            return status
    return 500


async def _taskloom_error(_request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    if status == 500:
        logger.error("unmapped error", exc_info=exc, extra={"event": "unmapped_error"})
        return JSONResponse({"detail": "internal error"}, status_code=500)
    if status == 422:  # FastAPI's shape for every 422: a list of problems
        problem = {"type": "value_error", "loc": ["body"], "msg": str(exc), "input": None}
        return JSONResponse({"detail": [problem]}, status_code=422)
    headers = {"WWW-Authenticate": "x-api-key"} if status == 401 else None
    if isinstance(exc, errors.RateLimited):
        headers = {"Retry-After": str(exc.retry_after_s)}
    if status == 503:
        logger.warning("store unavailable", exc_info=exc, extra={"event": "store_unavailable"})
        headers = {"Retry-After": "1"}
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.TaskloomError, _taskloom_error)
