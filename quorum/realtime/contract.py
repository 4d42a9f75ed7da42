"""The published contract of a stream: an AsyncAPI 3.0 document generated from the
payload models a domain declares.

The core owns the envelope every message travels in (``{"seq", "type", "t", "data"}``,
``quorum.realtime.message``) and the two transports; the domain owns the ``data`` of each
type. This module joins the two: each message of the document is the envelope with that
type's ``data`` schema, written by pydantic from the very models the domain builds its
payloads from, so the document cannot drift from what is sent.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import models_json_schema

ASYNCAPI_VERSION = "3.0.0"
_REF = "#/components/schemas/{model}"


class Heartbeat(BaseModel):
    """WebSocket only (SSE sends a comment line): the connection is alive."""

    type: Literal["heartbeat"]


@dataclass(frozen=True)
class Channel:
    """One transport's address, e.g. ``/api/v1/events/{event_id}/stream``."""

    name: str
    address: str
    description: str
    parameters: Mapping[str, str]  # name -> description
    heartbeat: bool = False  # does the channel carry ``Heartbeat`` frames


def envelope(type_: str, data: type[BaseModel], *, transient: bool = False) -> type[BaseModel]:
    """The model of a whole message of ``type_``, as a client receives it. A transient
    message (not logged: ``Message.build_transient``) has no ``seq``."""
    literal: Any = Literal[type_]  # a type made at run time, one per message type
    position = (int, Field(ge=0, description="the log position; the SSE id"))
    seq: Any = {} if transient else {"seq": position}
    model: type[BaseModel] = create_model(
        f"{data.__name__}Message",
        __config__=ConfigDict(extra="forbid", title=f"{type_} message"),
        __doc__=data.__doc__,
        **seq,
        type=(literal, Field(description="the message type; the SSE event name")),
        t=(float, Field(description="commit time, seconds since the epoch")),
        data=(data, ...),
    )
    return model


def asyncapi(
    *,
    title: str,
    version: str,
    description: str,
    channels: Sequence[Channel],
    messages: Mapping[str, type[BaseModel]],
    transient: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document for ``messages`` (type -> ``data`` model) sent on every
    channel, those named in ``transient`` without ``seq``; the channels that send
    heartbeats list that message too."""
    envelopes = {
        type_: envelope(type_, data, transient=type_ in transient)
        for type_, data in messages.items()
    }
    models: list[type[BaseModel]] = [*envelopes.values(), Heartbeat]
    schema_of, defs = models_json_schema([(m, "serialization") for m in models], ref_template=_REF)
    components_messages = {
        type_: {
            "name": type_,
            "title": type_,
            "summary": _first_line(messages[type_].__doc__),
            "contentType": "application/json",
            "payload": schema_of[(model, "serialization")],
        }
        for type_, model in envelopes.items()
    }
    components_messages["heartbeat"] = {
        "name": "heartbeat",
        "title": "heartbeat",
        "summary": _first_line(Heartbeat.__doc__),
        "contentType": "application/json",
        "payload": schema_of[(Heartbeat, "serialization")],
    }
    document_channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in channels:
        names = [*envelopes, *(["heartbeat"] if channel.heartbeat else [])]
        document_channels[channel.name] = {
            "address": channel.address,
            "description": channel.description,
            "parameters": {
                name: {"description": text} for name, text in channel.parameters.items()
            },
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        operations[f"receive_{channel.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel.name}"},
            "messages": [{"$ref": f"#/channels/{channel.name}/messages/{n}"} for n in names],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "defaultContentType": "application/json",
        "channels": document_channels,
        "operations": operations,
        "components": {"schemas": defs.get("$defs", {}), "messages": components_messages},
    }


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())
