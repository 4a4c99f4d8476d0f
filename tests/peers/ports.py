"""Free loopback ports and waiting for a listener to accept connections."""

import socket
import ssl
import time


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different free TCP ports: every probe stays bound until all are chosen, so the
    system cannot hand the same port out twice (one server with several listeners needs that)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind((host, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_udp_and_tcp_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free for both UDP and TCP on ``host`` (DNS listens on both)."""
    for _ in range(50):
        port = free_port(host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no port free for both UDP and TCP on {host}")


def wait_until_accepting(
    host: str,
    port: int,
    timeout: float = 5.0,
    greeting: bool = False,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Block until ``host:port`` accepts a TCP connection (and, if ``greeting``, sends a first byte,
    after a TLS handshake verified with ``tls`` when given).

    Raises TimeoutError naming the address when it does not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5) as connection:
                if tls is not None:
                    with tls.wrap_socket(connection, server_hostname=host) as secured:
                        if greeting and not secured.recv(1):
                            raise ConnectionError("closed before greeting")
                    return
                if greeting and not connection.recv(1):
                    raise ConnectionError("closed before greeting")
                return
        except OSError as error:
            last_error = error
            time.sleep(0.01)
    raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout} s ({last_error})")
