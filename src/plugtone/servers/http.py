"""Phone-facing HTTP(S): ``GET /<file>`` answered by the resolver.

Deliberately lean: one catch-all route, no validation layers, ETag and
If-None-Match so the daily resync of thousands of phones costs a 304 each. Unknown
files, unassigned MACs and refused paths all get the same plain 404, so a scanner
learns nothing about which MACs exist.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest, Status
from plugtone.provisioning.uploads import UploadTooLarge

NOT_FOUND = b"not found\n"


def create_phone_app(provisioner: Provisioner) -> Starlette:
    """The ASGI app phones talk to; the same app serves HTTP and HTTPS."""

    async def serve_file(request: Request) -> Response:
        file_request = _file_request(request)
        answer = await provisioner.answer(file_request)
        if answer.status is not Status.OK or answer.content is None:
            status = "refused" if answer.status is Status.BAD_PATH else "not_found"
            provisioner.finished(file_request, answer, status)
            return Response(NOT_FOUND, status_code=404, media_type="text/plain")
        etag = answer.etag or ""
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag and etag in _etags(request.headers.get("if-none-match", "")):
            provisioner.finished(file_request, answer, "not_modified")
            return Response(status_code=304, headers=headers)
        sent = 0 if request.method == "HEAD" else len(answer.content)
        provisioner.finished(file_request, answer, "ok", sent)
        return Response(answer.content, media_type=answer.content_type, headers=headers)

    async def receive_upload(request: Request) -> Response:
        """``PUT`` of a name a plug-in declares as an upload (logs, overrides, contacts)."""
        file_request = _file_request(request)
        target = await provisioner.upload_target(file_request)
        if target is None:
            provisioner.finished(file_request, None, "refused", detail="upload not allowed")
            return Response(b"uploads of this name are not allowed\n", status_code=403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > target.max_bytes:
            provisioner.finished(file_request, None, "refused", detail="upload too large")
            return Response(b"too large\n", status_code=413)
        content = bytearray()
        async for chunk in request.stream():
            content += chunk
            if len(content) > target.max_bytes:
                provisioner.finished(file_request, None, "refused", detail="upload too large")
                return Response(b"too large\n", status_code=413)
        try:
            await provisioner.store_upload(file_request, target, bytes(content))
        except UploadTooLarge:
            return Response(b"too large\n", status_code=413)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/{path:path}", serve_file, methods=["GET", "HEAD"]),
            Route("/{path:path}", receive_upload, methods=["PUT"]),
        ]
    )


def _file_request(request: Request) -> FileRequest:
    """What the resolver needs to know of an HTTP request, and nothing more."""
    return FileRequest(
        path=request.url.path,
        transport=request.url.scheme,
        client_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _etags(header: str) -> set[str]:
    tags = {tag.strip() for tag in header.split(",") if tag.strip()}
    return tags | {tag[2:] for tag in tags if tag.startswith("W/")}
