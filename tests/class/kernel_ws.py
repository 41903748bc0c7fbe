"""Run a notebook's code cells in a kernel of a Jupyter server, over the server's REST and websocket API.

This is what JupyterLab does when a student runs a cell: start a kernel (POST /api/kernels), send each
cell as an execute_request on the kernel's websocket, read its output and execute_reply.
"""

from __future__ import annotations

import json
import uuid

import nbformat
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


class CellFailed(AssertionError):
    """A cell ended with an error (its traceback's last lines are in the message)."""


class RemoteKernel:
    """One kernel of a (single-user) Jupyter server, reached through base_url with a token."""

    def __init__(self, base_url: str, token: str):
        self.base_url, self.token = base_url.rstrip("/"), token
        self.session = Session(username="course-test")
        self.kernel_id = ""
        self.ws = None

    def _headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    async def start(self, timeout: float = 120) -> None:
        reply = await AsyncHTTPClient().fetch(HTTPRequest(
            f"{self.base_url}/api/kernels", method="POST", body=json.dumps({"name": "python3"}),
            headers=self._headers(), request_timeout=timeout))
        self.kernel_id = json.loads(reply.body)["id"]
        ws_url = self.base_url.replace("http", "ws", 1) + f"/api/kernels/{self.kernel_id}/channels"
        self.ws = await websocket_connect(HTTPRequest(ws_url, headers=self._headers(), request_timeout=timeout),
                                          max_message_size=64 * 1024 * 1024)

    async def execute(self, code: str) -> str:
        """Run code; return what it printed; raise CellFailed if it raised."""
        message = self.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                       "user_expressions": {}, "allow_stdin": False,
                                                       "stop_on_error": True})
        message["channel"] = "shell"
        msg_id = message["header"]["msg_id"]
        await self.ws.write_message(json.dumps(message, default=json_default))
        printed: list[str] = []
        final = None
        idle = False  # output (iopub) may still arrive after the reply (shell): wait for both
        while final is None or not idle:
            raw = await self.ws.read_message()
            if raw is None:
                raise CellFailed(f"the kernel's websocket closed while running:\n{code[:300]}")
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                printed.append("\n".join(content["traceback"][-3:]))
            elif kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "execute_reply":
                final = content
        if final["status"] != "ok":
            raise CellFailed(f"cell failed: {final.get('ename')}: {final.get('evalue')}\n"
                             f"{code[:300]}\n{''.join(printed)[-2000:]}")
        return "".join(printed)

    async def run_notebook(self, path) -> None:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                await self.execute(cell.source)

    async def shutdown(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.kernel_id:
            await AsyncHTTPClient().fetch(HTTPRequest(f"{self.base_url}/api/kernels/{self.kernel_id}",
                                                      method="DELETE", headers=self._headers()),
                                          raise_error=False)


def new_token() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex
