"""The inspector as a service of the server process: a web page on loopback, in a thread of its own.

Like the HTTP service it runs http.server's loop in a thread, so a slow page never
holds up the mail or FTP servers; unlike every other service it listens on
127.0.0.1 even when the others are public (`up --host`): it shows every account's
mail and needs no more than a token that only the state directory's owner can read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from ..handle import ServiceInfo
from ..service import Service, listen
from . import access
from .web import Inspector, make_server

#: The inspector's address, whatever host the other services bind.
LOOPBACK = "127.0.0.1"


class InspectorService(Service):
    """The course inspector: mailboxes, FTP files, news, sessions, faults (see the package docstring)."""

    name = "inspector"
    listeners = ("inspector",)

    async def start(self) -> None:
        state_dir = self.ctx.data_dir.parent  # the data folder is <state dir>/data (config.StateDir)
        token = access.ensure_token(state_dir)
        sock = listen(dataclasses.replace(self.ctx, host=LOOPBACK), "inspector")  # records ctx.bound too
        self.app = Inspector(state_dir, self.ctx.data_dir, token)
        self.server = make_server(sock, self.app)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="inspector", daemon=True)
        self.thread.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.shutdown)
        self.server.server_close()
        self.thread.join(timeout=2)

    def info(self) -> ServiceInfo:
        return dataclasses.replace(super().info(), host=LOOPBACK)

    def extra_info(self) -> dict:
        return {"url": f"http://{LOOPBACK}:{self.ports['inspector']}/",
                "how": "`.venv/bin/python -m local_servers inspect` prints the address with its token"}
