"""Real-protocol test peers on 127.0.0.1: aiosmtpd, Postfix smtp-sink, Dovecot and a dnslib server.

Every module except ``fixtures`` and ``require`` is importable without pytest, so benchmarks in
``bench/`` can start the same peers.
"""
