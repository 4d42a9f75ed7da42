"""The real-time core: event log, broker, hub, transports. Imports nothing from a feature.

What an application builds on is listed in ``__all__`` (docs/realtime.md, "Building on
the core", walks through examples/store_orders, which uses nothing else):

- its log: ``log_table`` (a log table in its own metadata), ``Counter`` (the row that
  numbers a topic's entries), ``append`` (write entries in the change's transaction);
- its process: ``create_realtime`` (hub, broker and streams, given its ``Snapshot``),
  ``Realtime.publish`` for its unit of work (``quorum.db.uow.UnitOfWork``);
- its streams: ``EventStreamResponse`` (SSE) and ``serve_websocket``, behind
  ``ConnectionAbort``; ``Message`` is what a snapshot returns and a stream sends;
- optional rules: ``Project`` (audiences), ``IsFinal`` (a topic's last message),
  ``Evicts`` (whom a message takes the stream from), ``Admit`` (who may start reading
  a topic, asked once the stream is subscribed: a removal that commits meanwhile is not
  missed);
- its shutdown: ``end_streams_on_signal`` (streams end cleanly on SIGTERM, and their
  clients resume elsewhere).

The names are loaded on first use: ``quorum.db.uow`` imports ``quorum.realtime.message``,
so this package must not import the log (which imports ``quorum.db.uow``) on its own.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quorum.realtime.abort import ConnectionAbort, abort_of
    from quorum.realtime.hub import ACCESS_REVOKED, Evicts
    from quorum.realtime.log import Counter, append, log_table
    from quorum.realtime.message import Entry, Message, Project, Topic, as_is
    from quorum.realtime.setup import Realtime, create_realtime
    from quorum.realtime.sse import EventStreamResponse
    from quorum.realtime.stream import TOPIC_ENDED, Admit, IsFinal, Snapshot, Streams, never_final
    from quorum.realtime.ws import serve as serve_websocket
    from quorum.shutdown import end_streams_on_signal

_WHERE = {
    "ACCESS_REVOKED": ("hub", "ACCESS_REVOKED"),
    "Admit": ("stream", "Admit"),
    "ConnectionAbort": ("abort", "ConnectionAbort"),
    "Counter": ("log", "Counter"),
    "Entry": ("message", "Entry"),
    "EventStreamResponse": ("sse", "EventStreamResponse"),
    "Evicts": ("hub", "Evicts"),
    "IsFinal": ("stream", "IsFinal"),
    "Message": ("message", "Message"),
    "Project": ("message", "Project"),
    "Realtime": ("setup", "Realtime"),
    "Snapshot": ("stream", "Snapshot"),
    "Streams": ("stream", "Streams"),
    "TOPIC_ENDED": ("stream", "TOPIC_ENDED"),
    "Topic": ("message", "Topic"),
    "abort_of": ("abort", "abort_of"),
    "append": ("log", "append"),
    "as_is": ("message", "as_is"),
    "create_realtime": ("setup", "create_realtime"),
    "end_streams_on_signal": ("quorum.shutdown", "end_streams_on_signal"),
    "log_table": ("log", "log_table"),
    "never_final": ("stream", "never_final"),
    "serve_websocket": ("ws", "serve"),
}

__all__ = [
    "ACCESS_REVOKED",
    "TOPIC_ENDED",
    "Admit",
    "ConnectionAbort",
    "Counter",
    "Entry",
    "EventStreamResponse",
    "Evicts",
    "IsFinal",
    "Message",
    "Project",
    "Realtime",
    "Snapshot",
    "Streams",
    "Topic",
    "abort_of",
    "append",
    "as_is",
    "create_realtime",
    "end_streams_on_signal",
    "log_table",
    "never_final",
    "serve_websocket",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'quorum.realtime' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    path = module if "." in module else f"quorum.realtime.{module}"
    value = getattr(importlib.import_module(path), attribute)
    globals()[name] = value  # once loaded, a plain attribute
    return value
