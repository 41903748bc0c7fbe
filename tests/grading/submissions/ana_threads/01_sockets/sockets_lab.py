"""Lab 1 - Ana. Written with plain threads (no socketserver): one thread accepts, one per client."""

import socket
import threading
import time


def timestamp_reply(line):
    stamp = "[" + time.ctime() + "] "
    return stamp.encode("ascii") + line


class TCPServer:
    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)  # so the accept loop can notice we are stopping
        self.server_address = self.sock.getsockname()
        self.running = True
        self.conns = []
        self.threads = []
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self.accept_loop)
        self.acceptor.start()

    def accept_loop(self):
        while self.running:
            try:
                conn, addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(None)
            t = threading.Thread(target=self.serve_client, args=(conn,))
            with self.lock:
                self.conns.append(conn)
                self.threads.append(t)
            t.start()

    def serve_client(self, conn):
        buf = b""
        try:
            while True:
                try:
                    data = conn.recv(2048)
                except OSError:
                    break
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    conn.sendall(timestamp_reply(line + b"\n"))
                if len(buf) > 100000:
                    break
        finally:
            conn.close()

    def close(self):
        self.running = False
        self.acceptor.join(2)
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            threads = list(self.threads)
        for t in threads:
            t.join(1)


def start_tcp_server(host="127.0.0.1", port=0):
    return TCPServer(host, port)


def tcp_client(host, port, messages, timeout=5.0):
    for m in messages:
        if b"\n" in m:
            raise ValueError("no newlines in messages please")
    s = socket.create_connection((host, port), timeout=timeout)
    f = s.makefile("rb")
    out = []
    try:
        for m in messages:
            s.sendall(m + b"\n")
            line = f.readline()
            if not line.endswith(b"\n"):
                raise ConnectionError("server hung up")
            out.append(line[:-1])
    finally:
        f.close()
        s.close()
    return out


class UDPServer:
    def __init__(self, host, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.server_address = self.sock.getsockname()
        self.running = True
        self.thread = threading.Thread(target=self.loop)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            self.sock.sendto(timestamp_reply(data), addr)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def start_udp_server(host="127.0.0.1", port=0):
    return UDPServer(host, port)


def udp_client(host, port, messages, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        answers = []
        for m in messages:
            s.sendto(m, (host, port))
            answers.append(s.recvfrom(65535)[0])
        return answers
    finally:
        s.close()
