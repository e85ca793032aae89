"""Faults of our own making, never of the machine's shared services: a private redis-server
that can be stopped and started again on the same port and data, and a TCP proxy (a thread)
between a web process and PostgreSQL that can be cut and restored."""
import selectors
import socket
import subprocess
import threading
import time

import redis

from tests.support.processes import free_port


class RedisServer:
    """``redis-server`` on a free loopback port, its data saved at shutdown and loaded again
    at start (a restart, not a new empty Redis)."""

    def __init__(self, directory):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                redis.Redis(port=self.port).shutdown(save=True)
            except redis.RedisError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class TcpProxy:
    """Forwards a free loopback port to ``target``. ``cut()`` resets every connection and
    refuses new ones (what clients see while a database restarts); ``restore()`` lets them
    through again."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_off = False
        self.pairs = set()
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self._reset(client)
                continue
            with self.lock:
                self.pairs.add((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _reset(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
        except OSError:
            pass

    def _pump(self, client, upstream):
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not self.stopped and (client, upstream) in self.pairs:
                for key, _ in selector.select(timeout=0.2):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            pass
        finally:
            selector.close()
            with self.lock:
                self.pairs.discard((client, upstream))
            self._reset(client)
            self._reset(upstream)

    def cut(self):
        self.cut_off = True
        with self.lock:
            pairs, self.pairs = list(self.pairs), set()
        for client, upstream in pairs:
            self._reset(client)
            self._reset(upstream)

    def restore(self):
        self.cut_off = False

    def close(self):
        self.stopped = True
        self.cut()
        self.listener.close()

