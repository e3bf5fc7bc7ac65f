"""Request bodies, validated with pydantic; the same models generate the OpenAPI schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema, field_validator

# The capture timestamp's rules belong to the domain (the time-filter routes import it from here too).
from crm.whatsapp_time import parse_timestamp

MessageType = Literal["text", "image", "audio", "video", "document", "sticker", "location", "contact"]
ConversationStatus = Literal["open", "pending", "converted", "lost", "closed"]
CustomerStatus = Literal["lead", "prospect", "active", "customer", "inactive", "blocked", "churned"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# A capture's raw payload is stored as JSON text: bounded so that every accepted one can be encoded (orjson
# stops at 255 levels) and a hostile one is a 422 its sender drops, not a 500 it retries forever.
RAW_MAX_DEPTH = 32
RAW_MAX_BYTES = 65536


def bounded_raw(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """The raw payload, checked: at most RAW_MAX_DEPTH levels of objects and arrays, RAW_MAX_BYTES as JSON."""
    if value is None:
        return value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative: a deep value must not exhaust the interpreter's stack either
        item, depth = stack.pop()
        if depth > RAW_MAX_DEPTH:
            raise ValueError(f"must nest at most {RAW_MAX_DEPTH} levels of objects and arrays")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        raise ValueError("must be encodable as JSON") from None
    if size > RAW_MAX_BYTES:
        raise ValueError(f"must be at most {RAW_MAX_BYTES // 1024} KiB as JSON")
    return value


# JSON true or false only: pydantic's lax bool would take "yes", "off", 1 and 0 as well.
Flag = StrictBool

NonEmpty = Annotated[str, Field(min_length=1, max_length=256)]


class CaptureRequest(Strict):
    message_id: Annotated[str, Field(min_length=1, max_length=256, description="WhatsApp message id (unique)")]
    chat_id: Annotated[str, Field(min_length=1, max_length=256, description="WhatsApp chat id")]
    phone: Annotated[str | None, Field(default=None, min_length=1, max_length=64,
                                       description="Customer phone in any common format; optional when chat_id "
                                                   "is a JID (@c.us, @lid, @g.us)")] = None
    participant: Annotated[str | None, Field(default=None, min_length=1, max_length=64,
                                             description="Sender's JID (@c.us or @lid) of a received group "
                                                         "message")] = None
    name: Annotated[str | None, Field(default=None, max_length=256,
                                      description="Sender's display name (received) or the contact's")] = None
    chat_name: Annotated[str | None, Field(default=None, max_length=256,
                                           description="The chat's title: contact or group name")] = None
    content: Annotated[str, Field(max_length=65536, description="Message text; up to 64 KiB of UTF-8")]
    type: MessageType = "text"
    direction: Literal["in", "out"]
    # Parsed once, here: handlers and the pipeline get an aware UTC datetime; the schema shows what is sent.
    timestamp: Annotated[datetime, BeforeValidator(parse_timestamp),
                         WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}),
                         Field(description="ISO 8601 or epoch milliseconds")]
    media_url: Annotated[str | None, Field(default=None, max_length=2048, pattern=r"^(https?|blob|data):")] = None
    raw: Annotated[dict[str, Any] | None,
                   Field(default=None, description=f"Any JSON object, kept with the message: at most "
                                                   f"{RAW_MAX_DEPTH} levels deep and {RAW_MAX_BYTES // 1024} KiB "
                                                   f"as JSON")] = None
    pre_plain_text: Annotated[str | None, Field(default=None, max_length=512,
                                                description='WhatsApp\'s data-pre-plain-text, e.g. '
                                                            '"[10:32, 05/12/2024] Ana: "')] = None
    locale: Annotated[str | None, Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*$",
                                        description="The browser's locale (navigator.language): the date "
                                                    "order hint")] = None
    utc_offset_min: Annotated[int | None, Field(default=None, ge=-720, le=840,
                                                description="The browser's offset from UTC in minutes, east "
                                                            "positive")] = None

    @field_validator("content")
    @classmethod
    def _content_size(cls, value: str) -> str:
        if len(value.encode("utf-8", "surrogatepass")) > 65536:
            raise ValueError("must be at most 64 KiB of UTF-8")
        return value

    @field_validator("raw")
    @classmethod
    def _raw_bounds(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return bounded_raw(value)

    @property
    def seen_at(self) -> datetime:
        """The timestamp as an aware UTC datetime (crm/capture.py's CaptureFields names it so)."""
        return self.timestamp


class CaptureBatchRequest(Strict):
    """Documents POST /api/messages/capture/batch; the handler validates each item on its own."""

    messages: Annotated[list[CaptureRequest], Field(
        min_length=1, max_length=500,
        description="1 to 500 captures, answered one result each. Only the newest received message of each chat "
                    "is analysed before the answer; the others (a history import's older messages) are stored "
                    "and answered 201 with \"analysis\": null, \"analysis_pending\": true, and analysed moments "
                    "later in the background (their sentiment, intent and the dashboard counts follow)")]


class CaptureBatchEnvelope(Strict):
    """The batch body before its items are validated one by one (an invalid item fails alone)."""

    messages: Annotated[list[Any], Field(min_length=1, max_length=500)]


class LoginRequest(Strict):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class AnalysisRequest(Strict):
    text: Annotated[str | None, Field(default=None, min_length=1, max_length=65536)] = None
    message_id: Annotated[int | None, Field(default=None, ge=1, le=2**63 - 1, description="Stored message id")] = None
    conversation_id: Annotated[int | None, Field(
        default=None, ge=1, le=2**63 - 1,
        description="With text: read it as the next message of this conversation (its last messages of the "
                    "past 30 minutes are the window)")] = None
    language: Literal["pt", "en", "es"] | None = None
    engine: Literal["auto", "rules", "llm"] = "auto"


class DraftRequest(Strict):
    message_id: Annotated[int, Field(ge=1, le=2**63 - 1, description="Stored message id (the customer's message to "
                                                                      "answer)")]


class CustomerPatch(Strict):
    name: Annotated[str | None, Field(default=None, max_length=256)] = None
    email: Annotated[str | None, Field(default=None, max_length=320,
                                       pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] = None
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]] | None,
                    Field(default=None, max_length=100)] = None
    custom_fields: Annotated[dict[str, str | int | float | bool | None] | None, Field(default=None)] = None
    status: CustomerStatus | None = None

    @field_validator("custom_fields")
    @classmethod
    def _bounded_fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if len(value) > 100:
            raise ValueError("at most 100 custom fields")
        for key, item in value.items():
            if not key or len(key) > 64:
                raise ValueError("field names must be 1 to 64 characters")
            if isinstance(item, str) and len(item) > 4096:
                raise ValueError(f"value of {key!r} is longer than 4096 characters")
        return value


class ConversationPatch(Strict):
    status: ConversationStatus


class ConfigChanges(Strict):
    changes: Annotated[dict[str, Any], Field(min_length=1, max_length=500,
                                             description='{"section.key": new value}; see GET /api/system/config')]


Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class UserCreate(Strict):
    username: Username
    password: Password
    role: Literal["admin", "agent"] = "agent"


class PasswordChange(Strict):
    password: Annotated[Password, Field(description="the new password (8-1024 characters)")]
    current_password: Annotated[str | None, Field(default=None, max_length=1024,
                                                  description="required when you change your own password "
                                                              "with a user token, admins included")] = None


class UserUpdate(Strict):
    active: Annotated[Flag, Field(description="false disables the account (its sessions end, it cannot log in); "
                                              "true enables it again")]


SyncTable = Literal["customers", "conversations", "messages", "ai_analysis", "knowledge"]
_KNOWLEDGE_TEXT_LIMITS = {"uid": 64, "title": 1000, "content": 20_000, "language": 8, "tags": 20_000,
                          "shortcut": 64, "field_hlc": 10_000}


class SyncRow(Strict):
    t: SyncTable
    id: Annotated[int, Field(ge=1, le=2**63 - 1, description="The row's id on the agent")]
    seq: Annotated[int, Field(ge=1, le=2**63 - 1, description="The row's change_seq on the agent")]
    data: dict[str, Any]
    deleted: Literal["deleted", "merged", "retention"] | None = Field(
        None, description="A tombstone: the agent deleted the row (why); seq is the deletion's change_seq")

    @field_validator("data")
    @classmethod
    def _bounded_columns(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 64:
            raise ValueError("at most 64 columns")
        return value


class SyncPush(Strict):
    version: Literal[1] = 1
    upto: Annotated[int, Field(ge=0, le=2**63 - 1, description="Every change up to this change_seq is included")]
    rows: Annotated[list[SyncRow], Field(max_length=200_000)]

    @field_validator("rows")
    @classmethod
    def _customer_rows_are_profiles(cls, rows: list[SyncRow]) -> list[SyncRow]:
        # Customers rows are merged into the hub's profiles, knowledge rows into the team's knowledge base:
        # their shared fields must have the column types.
        for row in rows:
            if row.t == "knowledge":
                _check_knowledge_row(row)
                continue
            if row.t != "customers" or row.deleted:
                continue
            phone, status = row.data.get("phone"), row.data.get("status", "lead")
            if not isinstance(phone, str) or not 1 <= len(phone) <= 64:
                raise ValueError("customers rows need data.phone (1 to 64 characters)")
            if not isinstance(status, str) or len(status) > 64:
                raise ValueError("data.status of a customers row must be a string")
            for key in ("name", "email", "tags", "custom_fields", "field_hlc"):
                value = row.data.get(key)
                if value is not None and (not isinstance(value, str) or len(value) > 1_000_000):
                    raise ValueError(f"data.{key} of a customers row must be a string or null")
        return rows


def _check_knowledge_row(row: SyncRow) -> None:
    uid = row.data.get("uid")
    if not isinstance(uid, str) or not 1 <= len(uid) <= 64:
        raise ValueError("knowledge rows need data.uid (1 to 64 characters)")
    if row.deleted:
        return
    for key, limit in _KNOWLEDGE_TEXT_LIMITS.items():
        value = row.data.get(key)
        if value is None and key in ("language", "shortcut", "field_hlc", "tags"):
            continue
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"data.{key} of a knowledge row must be a string of at most {limit} characters")


# -- the knowledge base (crm/knowledge.py checks the same rules again, for CSV rows too) -----------------------

KnowledgeLanguage = Literal["pt", "en", "es"]
KnowledgeTags = Annotated[list[Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[^;]*$")]],
                          Field(max_length=20, description="short labels, at most 20 of 50 characters, no ';'")]
Shortcut = Annotated[str, Field(pattern=r"^/?[A-Za-z0-9_-]{1,32}$",
                                description='a quick reply\'s /shortcut: stored without "/", lower-cased, unique')]


class KnowledgeCreate(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    content: Annotated[str, Field(min_length=1, max_length=4000,
                                  description="the fact; as a quick reply, {name}, {first_name} and {order} are "
                                              "filled from the chat")]
    language: KnowledgeLanguage | None = None
    tags: KnowledgeTags = []
    shortcut: Shortcut | None = None


class KnowledgePatch(Strict):
    title: Annotated[str | None, Field(default=None, min_length=1, max_length=200)] = None
    content: Annotated[str | None, Field(default=None, min_length=1, max_length=4000)] = None
    language: KnowledgeLanguage | None = None
    tags: KnowledgeTags | None = None
    shortcut: Shortcut | None = None


# -- pairing the browser extension (docs/extension-protocol.md) ------------------------------------------------

class PairStart(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, description='e.g. "Chromium on Linux"')]
    browser: Literal["chromium", "firefox"]
    version: Annotated[str, Field(default="", max_length=32, description="the extension's version")] = ""


class PairComplete(Strict):
    pairing_id: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="the 6-digit code shown on the desktop")]


class ExtensionStatus(Strict):
    selectors_version: Annotated[str, Field(min_length=1, max_length=64)]
    state: Literal["ok", "stalled", "idle"] = Field(
        description="stalled: a chat is open but the selectors find no message rows or no text in them")
    reason: Annotated[str, Field(default="", max_length=500)] = ""
    rows_seen: Annotated[int, Field(default=0, ge=0, le=10**9)] = 0
    queued: Annotated[int, Field(default=0, ge=0, le=10**9)] = 0
    paused: Flag = False


class HubBackupStart(Strict):
    """The start of an off-site backup upload to a hub (api/routes/offsite.py)."""

    name: Annotated[str, Field(pattern=r"^crm_agent-[0-9A-Za-z._-]{1,180}\.db\.enc$",
                               description="The encrypted backup's file name on the agent")]
    size_bytes: Annotated[int, Field(ge=1, le=2**62, description="The file's size in bytes")]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the whole file, hex")]
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$",
                                 description="The id of the key it is encrypted with (not the key): SHA-256 prefix")]
    created_at: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
                                     description="When the agent wrote the backup (UTC)")]
