"""The server ``mixcalc serve`` starts: uvicorn with a guarded HTTP protocol and redacted logs.

uvicorn alone reads headers without a deadline or a size bound, keeps a connection that
has sent nothing open for ever, and closes a connection with an unread body at once (the
client gets a reset instead of the 413).  :class:`GuardedHttpToolsProtocol` is uvicorn's
httptools protocol with what it lacks, per connection (limits from
:class:`~mixcalc.api.settings.ServerLimits`):

* a **header deadline**: from the connection's opening, or the end of the previous answer,
  to the end of the request headers (then 408 if a request had begun, and close);
* a **header size bound**: request line and headers over ``max_header_bytes`` → 431;
* a **body deadline**: from the end of the headers to the end of the body (then 408 and
  close, the application told that the client is gone);
* a **lingering close**: when an answer is sent before the request body was read (an
  early 413, a 404), the protocol sends the answer and a FIN, then reads and discards the
  rest of the body, at most ``drain_bytes`` and the body deadline, before closing;
* a **connection bound**: over ``max_connections`` a new connection gets a 503 and is closed;
* what is not HTTP/1.1 at all gets a 400 problem (uvicorn's own answer is plain text).

Shutdown is uvicorn's: on SIGTERM it stops accepting, closes idle connections, lets
requests in flight finish (``Connection: close``) for ``shutdown_grace`` seconds, then
cancels what is left and exits; the deadlines above bound any slow client meanwhile.

Logs: uvicorn's access log keeps client, method, status and the path of a known route
(query strings dropped; any other path is withheld); no log record carries a traceback
(only the exception's class name).  The application logs one line per unexpected failure
(:class:`~mixcalc.api.middleware.Outermost`).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import math
import re
import weakref
from typing import Any, Final

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .middleware import SECURITY_HEADERS
from .problems import PROBLEM_JSON, problem
from .settings import ServerLimits

__all__ = ["GuardedHttpToolsProtocol", "RedactedAccess", "WithoutTraceback", "log_config", "run"]


@functools.cache
def _limits() -> ServerLimits:
    return ServerLimits.from_env()


def _raw_problem(status: int, slug: str, title: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer, written by the protocol itself (no application involved)."""
    body = problem(status, slug, title, detail).body
    head = [STATUS_LINE[status]]
    for name, value in [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]:
        head += [name, b": ", value, b"\r\n"]
    return b"".join([*head, b"\r\n", body])


class _CycleTransport:
    """The transport as a request's cycle sees it: its ``close()`` lingers when the request
    body was not read to its end (see :meth:`GuardedHttpToolsProtocol.close_after_answer`)."""

    __slots__ = ("_protocol", "_transport")

    def __init__(self, protocol: GuardedHttpToolsProtocol, transport: asyncio.Transport) -> None:
        self._protocol = weakref.ref(protocol)  # no reference cycle through the protocol's cycle
        self._transport = transport

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        protocol = self._protocol()
        if protocol is None:
            self._transport.close()
        else:
            protocol.close_after_answer()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, bounds and a lingering close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _limits()
        self.timeout_keep_alive = self.limits.keep_alive  # type: ignore[assignment]
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._in_headers = True
        self._header_bytes = 0
        self._body_complete = True
        self._drain_left = 0

    # --- timers -----------------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._drain_left:
            return
        if not self._in_headers and self.cycle is not None and not self.cycle.response_complete:
            return  # a pipelined request is being answered: its headers came in time
        if self._header_bytes:  # a request had begun: say why it ends
            self.transport.write(
                _raw_problem(408, "request-timeout", "Request timeout", "the request headers came too slowly")
            )
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._drain_left or cycle is None or cycle.response_started:
            self.transport.close()
            return
        cycle.disconnected = True  # the application's receive() now says the client is gone
        cycle.message_event.set()
        self.transport.write(
            _raw_problem(408, "request-timeout", "Request timeout", "the request body came too slowly")
        )
        self.transport.close()

    # --- the protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.write(
                _raw_problem(503, "service-unavailable", "Service unavailable", "too many open connections")
            )
            transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._drain_left:
            self._drain_left = max(0, self._drain_left - len(data))
            if not self._drain_left:
                self.transport.close()
            return
        if self._in_headers:  # checked before the parser buffers any of it
            end = data.find(b"\r\n\r\n")
            if self._header_bytes + (len(data) if end < 0 else end) > self.limits.max_header_bytes:
                self._refuse_headers()
                return
        super().data_received(data)
        if self._in_headers:
            self._header_bytes += len(data)
        elif not self._body_complete and self._body_timer is None and not self.transport.is_closing():
            # Armed only when the body did not come with its headers: a whole request in one
            # read (the usual case) never starts this timer.
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_too_slow)

    def _refuse_headers(self) -> None:
        self.transport.write(
            _raw_problem(
                431,
                "request-header-fields-too-large",
                "Request header fields too large",
                f"the request line and headers are over {self.limits.max_header_bytes} bytes",
            )
        )
        self._drain(self.limits.drain_bytes)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._in_headers = False
        self._header_bytes = 0
        self._body_complete = False
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = _CycleTransport(self, self.transport)  # type: ignore[assignment]
        # The body deadline runs from here; data_received arms it if the body is not all in.

    def on_message_complete(self) -> None:
        self._body_complete = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._drain_left:
            self._arm_header_timer()  # the next request's headers, on a kept-alive connection

    def close_after_answer(self) -> None:
        """Closes after an answer; if the request body is still coming, lingers first."""
        if self._body_complete or self.transport.is_closing():
            self.transport.close()
        else:
            self._drain(self.limits.drain_bytes)

    def _drain(self, size: int) -> None:
        """Sends a FIN after what was written, then discards up to ``size`` bytes from the
        client for at most the body deadline, then closes."""
        self._cancel_timers()
        self._drain_left = max(1, size)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._body_timer = self.loop.call_later(self.limits.body_timeout, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """What the parser cannot read is a problem too (uvicorn's own is plain text)."""
        self.transport.write(
            _raw_problem(400, "malformed-request", "Malformed request", "the request is not valid HTTP/1.1")
        )
        self.transport.close()

    def timeout_keep_alive_handler(self) -> None:
        if not self._drain_left:
            super().timeout_keep_alive_handler()


# --- logs -----------------------------------------------------------------------------------------

#: Paths logged as they are; any other is withheld (it is the client's text).
_KNOWN_PATH: Final = re.compile(
    r"/|/healthz|/openapi\.json|/v1/mixtures(/fhir)?|/v1/formulary|/static/[A-Za-z0-9._-]{1,64}"
    r"|/cds-services(/[A-Za-z0-9-]{1,64}(/feedback)?)?"
)


class RedactedAccess(logging.Filter):
    """uvicorn's access line without the query string, and without a path no route knows."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            path = str(args[2]).split("?", 1)[0]
            shown = path if _KNOWN_PATH.fullmatch(path) else "(path withheld)"
            record.args = (args[0], args[1], shown, args[3], args[4])
        return True


class WithoutTraceback(logging.Filter):
    """Drops tracebacks from log records (the class name of the exception stays): an
    exception's arguments and its chained causes may hold what a client sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage().rstrip()} ({type(exc).__name__}; traceback withheld)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging set-up with the filters above on every handler, and the
    application's ``mixcalc`` logger on the same stream."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "redacted_access": {"()": RedactedAccess},
        "without_traceback": {"()": WithoutTraceback},
    }
    config["handlers"]["default"]["filters"] = ["without_traceback"]
    config["handlers"]["access"]["filters"] = ["redacted_access", "without_traceback"]
    config["loggers"]["mixcalc"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def run(host: str, port: int, *, workers: int = 1, log_level: str = "info") -> None:
    """Serves ``mixcalc.api:app`` until SIGTERM or SIGINT (then as the module docstring says)."""
    limits = _limits()
    uvicorn.run(
        "mixcalc.api:app",
        host=host,
        port=port,
        workers=workers,
        http=GuardedHttpToolsProtocol,
        ws="none",
        log_level=log_level,
        log_config=log_config(log_level),
        timeout_graceful_shutdown=math.ceil(limits.shutdown_grace),
        server_header=False,
    )
