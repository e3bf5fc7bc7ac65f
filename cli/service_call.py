"""One request from a command to the running service, with the local token (which counts as admin)."""

from __future__ import annotations

from typing import Any

from cli.context import Context


def call_service(ctx: Context, base: str, method: str, path: str, refusal: str = "") -> Any | None:
    """The answer's JSON body on 200; None after printing one error line (no answer, or the service refused:
    `refusal` goes before its message)."""
    from desktop.service_client import ServiceClient, ServiceUnavailable

    client = ServiceClient(lambda: base, ctx.data_dir.local_token_file)
    try:
        reply = client.request(method, path)
    except ServiceUnavailable as exc:
        print(ctx.tr._("error: the service at {url} did not answer: {error}").format(url=base, error=exc),
              file=ctx.stderr)
        return None
    if reply.status != 200:
        message = ((reply.body or {}).get("error") or {}).get("message", f"HTTP {reply.status}")
        print(ctx.tr._("error: {error}").format(error=refusal + message), file=ctx.stderr)
        return None
    return reply.body if reply.body is not None else {}
