"""An outage any server can have: a TCP link between the processes under test and PostgreSQL.

The processes connect through the link; `cut()` closes every connection through it and refuses new
ones, as a stopped server does, and `restore()` lets them through again. It works the same on every
route of tests/pg.py (TEST_DATABASE_URL, a container, the embedded cluster, which listens on a unix
socket only): the server itself keeps running, so the test's own direct connections, and the other
tests' databases on the same server, see no outage.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.logins import process_urls

_CHUNK = 64 * 1024


class _Pair:
    """One connection through the link: the client's socket and the server's, closed together once."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self._closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):  # already closed by its peer
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked on it
            sock.close()


class Link:
    """A proxy on 127.0.0.1 to the server of `server_url`; a context manager that closes it."""

    def __init__(self, server_url: str) -> None:
        with psycopg.connect(server_url) as conn:  # where libpq really connects (socket dir or address)
            host, port = conn.info.host, conn.info.port
        self._upstream: str | tuple[str, int] = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        )
        self._open = True
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # the accept loop looks at `_running` this often
        self.port: int = self._listener.getsockname()[1]
        self._running = True
        self._acceptor = threading.Thread(target=self._accept, name="db-link", daemon=True)
        self._acceptor.start()

    def url(self, conninfo: str) -> str:
        """`conninfo` (any database and role on the linked server) through the link."""
        params = {k: v for k, v in conninfo_to_dict(conninfo).items() if k != "hostaddr"}
        return make_conninfo("", **{**params, "host": "127.0.0.1", "port": str(self.port)})

    def process_env(self, db_url: str) -> dict[str, str]:
        """DATABASE_URL and the processes' own login URLs (tests/logins.py) of `db_url`, through the link:
        pass it as the `env` of tests/stack.py's running_api / running_listener."""
        urls = {"DATABASE_URL": db_url, **process_urls(db_url)}
        return {name: self.url(url) for name, url in urls.items()}

    def cut(self) -> None:
        """Close every connection through the link and refuse new ones until `restore()`."""
        with self._lock:
            self._open = False
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            pair.close()

    def restore(self) -> None:
        """Let connections through again (those cut stay closed: their clients reconnect)."""
        with self._lock:
            self._open = True

    def connections(self) -> int:
        """How many connections are open through the link now."""
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self._running = False
        self._acceptor.join(5)
        self._listener.close()
        self.cut()

    def __enter__(self) -> Link:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                refused = not self._open
            server = None if refused else self._connect_upstream()
            if server is None:
                client.close()  # what a client of a stopped server meets: no server behind the address
                continue
            pair = _Pair(client, server)
            with self._lock:
                if not self._open:  # cut while we connected
                    refused = True
                else:
                    self._pairs.add(pair)
            if refused:
                pair.close()
                continue
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _connect_upstream(self) -> socket.socket | None:
        try:
            if isinstance(self._upstream, str):  # the embedded cluster's unix socket
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self._upstream)
                except OSError:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(self._upstream, timeout=10)
            sock.settimeout(None)  # a connection may sit idle for as long as its client likes
            return sock
        except OSError:
            return None

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            pair.close()
            with self._lock:
                self._pairs.discard(pair)
