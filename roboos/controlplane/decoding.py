"""Undecodable request bytes answered with ``INVALID_ARGUMENT`` instead of grpc.aio's ``UNKNOWN``.

grpc.aio deserialises a request before any servicer code runs; when the protobuf parser raises, the
call ends with ``UNKNOWN`` and a logged traceback. :class:`DecodeGuardInterceptor` wraps every unary
request handler of a server (the control plane, the skill store and whatever shares the server) so the
parser's failure becomes an :class:`Undecodable` value and the call ends with ``INVALID_ARGUMENT`` and a
debug-level log line (a counted drop, not a traceback).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)


class Undecodable:
    """Stands for a request whose bytes did not parse; carries the parser's reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    """``deserializer`` returning :class:`Undecodable` instead of raising on bad bytes."""

    def decode(data: bytes) -> Any:
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError, but also others on odd input
            return Undecodable(f"{type(exc).__name__}: {exc}"[:200])

    return decode


def same_shape_handler(handler: grpc.RpcMethodHandler, behavior: Callable[..., Any],
                       request_deserializer: Callable[[bytes], Any] | None = None) -> grpc.RpcMethodHandler:
    """A handler with the streaming shape and serializer of ``handler`` but another ``behavior``."""
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(bool(handler.request_streaming), bool(handler.response_streaming))]
    return make(behavior, request_deserializer=request_deserializer or handler.request_deserializer,
                response_serializer=handler.response_serializer)


async def _refuse(request: Undecodable, context: grpc.aio.ServicerContext) -> None:
    log.debug("dropped an undecodable request (%s)", request.reason)
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request is not a valid message: {request.reason}")


def _guard(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    behavior = handler.unary_stream if handler.response_streaming else handler.unary_unary
    if behavior is None:
        return handler
    if handler.response_streaming:
        async def guarded_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if isinstance(request, Undecodable):
                await _refuse(request, context)
            result = behavior(request, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):  # a coroutine that writes with context.write
                await result

        return same_shape_handler(handler, guarded_stream, lenient(handler.request_deserializer))

    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            await _refuse(request, context)
        result = behavior(request, context)
        return await result if inspect.isawaitable(result) else result

    return same_shape_handler(handler, guarded, lenient(handler.request_deserializer))


class HandlerInterceptor(grpc.aio.ServerInterceptor):
    """Base of interceptors that replace a method's handler: subclasses implement :meth:`rewrite`."""

    def rewrite(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        return handler if handler is None else self.rewrite(handler, handler_call_details)


class DecodeGuardInterceptor(HandlerInterceptor):
    """Ends calls whose request bytes do not parse with ``INVALID_ARGUMENT`` (unary requests)."""

    def rewrite(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return handler if handler.request_streaming else _guard(handler)
