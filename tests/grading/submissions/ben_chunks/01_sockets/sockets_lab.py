"""Lab 1 (Ben): like the chapter's first server, one recv() is one message."""

import socket
import socketserver
import threading
import time


def timestamp_reply(line):
    return ("[%s] " % time.ctime()).encode() + line


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.clients.append(self.request)
        while True:
            try:
                data = self.request.recv(1024)
            except OSError:
                break
            if not data:
                break
            text = data.decode("utf-8")          # work with text
            self.request.send(timestamp_reply(text.encode("utf-8")))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr):
        super().__init__(addr, Handler)
        self.clients = []
        self.t = threading.Thread(target=self.serve_forever)
        self.t.start()

    def close(self):
        self.shutdown()
        for c in self.clients:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()
        self.t.join()


def start_tcp_server(host="127.0.0.1", port=0):
    return Server((host, port))


def tcp_client(host, port, messages, timeout=5.0):
    replies = []
    with socket.create_connection((host, port), timeout=timeout) as s:
        for msg in messages:
            s.sendall(msg + b"\n")
            replies.append(s.recv(1024).rstrip(b"\n"))
    return replies


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(timestamp_reply(data), self.client_address)


class UServer(socketserver.ThreadingUDPServer):
    def __init__(self, addr):
        super().__init__(addr, UDPHandler)
        self.t = threading.Thread(target=self.serve_forever)
        self.t.start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.t.join()


def start_udp_server(host="127.0.0.1", port=0):
    return UServer((host, port))


def udp_client(host, port, messages, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    out = []
    for m in messages:
        s.sendto(m, (host, port))
        out.append(s.recvfrom(2048)[0])
    s.close()
    return out
