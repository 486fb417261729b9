"""The fault server (fault_server.py) plus the OpenAI files and batches endpoints, answering from the toy model:
what litellm's real `acreate_file`, `acreate_batch`, `aretrieve_batch`, `afile_content` and `acancel_batch`
talk to on loopback (stdlib only; nothing of litellm or openai is patched).

    with BatchServer(scenario="expire", steps=3) as server:
        ... api_base=server.url ...
        server.uploads, server.batches_created, server.retrieves, server.cancels, server.requests_in_batches

Endpoints: ``POST /v1/files`` (multipart, as the openai client sends it), ``GET /v1/files/{id}`` and
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``;
chat completions and the rest as the fault server has them (the live retries go there).

A batch moves on only when it is retrieved, never with the clock, so tests are deterministic: it is
``validating`` when created, ``in_progress`` for the first ``steps - 1`` retrieves (its completed count growing),
then final at retrieve ``steps``, as ``scenario`` says:

- ``"ok"``: completed; every request answered (but ``failed_requests`` of them get a 500 in the error file, and
  ``malformed_lines`` output lines are cut in half);
- ``"expire"``: expired half done: the first half answered, the rest in the error file as ``batch_expired``;
- ``"fail"``: failed (validation), no result files;
- ``"hold"``: stays ``in_progress`` until ``release()`` (for a Ctrl-C while waiting), then as ``"ok"``.

``POST .../cancel`` makes it ``cancelling``, then ``cancelled`` at the next retrieve (what was done so far in the
output file). With ``auth_token``, every batch endpoint checks ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import toy_model
from fault_server import FaultServer, _error, _Handler

SCENARIOS = ("ok", "expire", "fail", "hold")


class _BatchHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802
        path = self._path()
        if not path.startswith(("/v1/files", "/v1/batches")):
            return super().do_GET()
        owner: BatchServer = self.server.owner  # type: ignore[assignment]
        owner._count_request()
        if not self._authorised():
            return
        parts = path.split("/")[2:]  # files|batches, id, [content]
        if parts[0] == "files" and len(parts) == 3 and parts[2] == "content":
            data = owner._file_content(parts[1])
            if data is None:
                return self._send_json(404, _error("No such file.", "invalid_request_error", "not_found"))
            return self._send(200, data, content_type="application/octet-stream")
        if parts[0] == "files" and len(parts) == 2:
            found = owner._file_object(parts[1])
            return self._send_json(200, found) if found else self._send_json(404, _error("No such file.", "invalid_request_error", None))
        if parts[0] == "batches" and len(parts) == 2:
            found = owner._retrieve(parts[1])
            return self._send_json(200, found) if found else self._send_json(404, _error("No such batch.", "invalid_request_error", None))
        self._send_json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))

    def do_POST(self) -> None:  # noqa: N802
        path = self._path()
        if not path.startswith(("/v1/files", "/v1/batches")):
            return super().do_POST()
        owner: BatchServer = self.server.owner  # type: ignore[assignment]
        owner._count_request()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorised():
            return
        if path == "/v1/files":
            try:
                name, data = _multipart_file(self.headers.get("Content-Type", ""), raw)
            except ValueError as exc:
                return self._send_json(400, _error(f"Bad upload: {exc}", "invalid_request_error", None))
            return self._send_json(200, owner._store_file(name, data, "batch"))
        if path == "/v1/batches":
            body = json.loads(raw or b"{}")
            created = owner._create(body.get("input_file_id", ""), body.get("endpoint", ""))
            if created is None:
                return self._send_json(400, _error("No such input file.", "invalid_request_error", None))
            return self._send_json(200, created)
        parts = path.split("/")
        if len(parts) == 5 and parts[4] == "cancel":
            found = owner._cancel(parts[3])
            return self._send_json(200, found) if found else self._send_json(404, _error("No such batch.", "invalid_request_error", None))
        self._send_json(404, _error(f"Unknown path {self.path}", "invalid_request_error", "not_found"))

    def _authorised(self) -> bool:
        token = self.server.owner.auth_token
        if token is not None and self.headers.get("Authorization", "") != f"Bearer {token}":
            self._send_json(401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
            return False
        return True


def _multipart_file(content_type: str, raw: bytes) -> tuple[str, bytes]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        raise ValueError("not multipart/form-data")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_filename() or "upload.jsonl", part.get_payload(decode=True) or b""
    raise ValueError("no `file` part")


class BatchServer(FaultServer):
    """FaultServer with the files and batches endpoints; see the module docstring."""

    handler_class = _BatchHandler

    def __init__(self, *, scenario: str = "ok", steps: int = 2, failed_requests: int = 0, malformed_lines: int = 0, **options: Any) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; known: {SCENARIOS}")
        super().__init__(**options)
        self.scenario, self.steps = scenario, max(1, steps)
        self.failed_requests, self.malformed_lines = failed_requests, malformed_lines
        self._files: dict[str, dict[str, Any]] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._released = threading.Event()
        self.uploads = self.batches_created = self.retrieves = self.cancels = 0
        self.uploaded_bytes = self.requests_in_batches = 0

    def release(self) -> None:
        """Let "hold" batches finish (as "ok") at their next retrieve."""
        self._released.set()

    # -- state, under the lock ------------------------------------------------------------------------
    def _store_file(self, name: str, data: bytes, purpose: str) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self._files) + 1}"
            self._files[file_id] = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                    "filename": name, "purpose": purpose, "status": "processed", "data": data}
            if purpose == "batch":
                self.uploads += 1
                self.uploaded_bytes += len(data)
            return _public(self._files[file_id])

    def _file_object(self, file_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._files.get(file_id)
            return _public(found) if found else None

    def _file_content(self, file_id: str) -> bytes | None:
        with self._lock:
            found = self._files.get(file_id)
            return found["data"] if found else None

    def _create(self, input_file_id: str, endpoint: str) -> dict[str, Any] | None:
        with self._lock:
            source = self._files.get(input_file_id)
            if source is None:
                return None
            lines = [json.loads(line) for line in source["data"].splitlines() if line.strip()]
            batch_id = f"batch_{len(self._batches) + 1}"
            self._batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": endpoint, "errors": None, "input_file_id": input_file_id,
                "completion_window": "24h", "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "metadata": None, "_lines": lines, "_polls": 0,
            }
            self.batches_created += 1
            self.requests_in_batches += len(lines)
            return _public(self._batches[batch_id])

    def _retrieve(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return None
            self.retrieves += 1
            if batch["status"] in ("completed", "failed", "expired", "cancelled"):
                return _public(batch)
            batch["_polls"] += 1
            total = len(batch["_lines"])
            if batch["status"] == "cancelling":
                self._finish(batch, "cancelled", batch["request_counts"]["completed"])
            elif self.scenario == "hold" and not self._released.is_set():
                batch["status"] = "in_progress"
            elif batch["_polls"] < self.steps:
                batch["status"] = "in_progress"
                batch["request_counts"]["completed"] = total * batch["_polls"] // self.steps
            elif self.scenario == "fail":
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "The input file is invalid.", "line": 1, "param": None}]}
            elif self.scenario == "expire":
                self._finish(batch, "expired", total // 2)
            else:
                self._finish(batch, "completed", total)
            return _public(batch)

    def _cancel(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return None
            self.cancels += 1
            if batch["status"] not in ("completed", "failed", "expired", "cancelled"):
                batch["status"] = "cancelling"
            return _public(batch)

    def _finish(self, batch: dict[str, Any], status: str, done: int) -> None:
        """Answer the first `done` requests (less the failed ones), the rest go to the error file."""
        output, errors = [], []
        for index, line in enumerate(batch["_lines"]):
            custom_id, body = line["custom_id"], line["body"]
            if index >= done:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append({"id": f"req_{index}", "custom_id": custom_id, "response": None,
                               "error": {"code": code, "message": "This request could not be executed before the batch ended."}})
            elif index < self.failed_requests:
                errors.append({"id": f"req_{index}", "custom_id": custom_id, "error": None, "response": {
                    "status_code": 500, "request_id": f"r{index}", "body": _error("Server error.", "server_error", None)}})
            else:
                seed = body.get("seed")
                text = toy_model.answer(body["messages"], seed=seed if isinstance(seed, int) else None,
                                        response_format=body.get("response_format"))
                prompt, completion = toy_model.usage(body["messages"], text)
                answer = {"id": f"chatcmpl-b{index}", "object": "chat.completion", "created": 0, "model": body.get("model"),
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}
                row = json.dumps({"id": f"req_{index}", "custom_id": custom_id, "error": None,
                                  "response": {"status_code": 200, "request_id": f"r{index}", "body": answer}})
                output.append(row[: len(row) // 2] if len(output) < self.malformed_lines else row)
        counts = batch["request_counts"]
        counts["completed"], counts["failed"] = len(output), len(errors)
        batch["status"] = status
        batch[f"{status}_at"] = int(time.time())
        for kind, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                data = ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()
                file_id = f"file-{len(self._files) + 1}"
                self._files[file_id] = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                        "filename": f"{kind}.jsonl", "purpose": "batch_output", "status": "processed", "data": data}
                batch[kind] = file_id


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and k != "data"}
