"""A throwaway certificate authority that issues loopback server certificates for the test peers."""

import os
import shutil
import ssl
import tempfile

import trustme

LOOPBACK_IDENTITIES = ("localhost", "127.0.0.1", "127.0.0.2")


class LoopbackCA:
    """A trustme CA whose PEM file lives on disk, so client code can be given a ``ca_file`` path."""

    def __init__(self, directory: str | None = None):
        self.authority = trustme.CA()
        self.directory = directory or tempfile.mkdtemp(prefix="ca", dir="/tmp")
        os.makedirs(self.directory, exist_ok=True)
        os.chmod(self.directory, 0o755)
        self.ca_pem = os.path.join(self.directory, "ca.pem")
        self.authority.cert_pem.write_to_path(self.ca_pem)
        os.chmod(self.ca_pem, 0o644)
        self._server_cert = self.authority.issue_cert(*LOOPBACK_IDENTITIES)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for a server presenting a certificate for localhost / 127.0.0.1 / 127.0.0.2."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that verifies certificates against this CA only (hostname checked)."""
        return ssl.create_default_context(cafile=self.ca_pem)

    def write_server_files(self, directory: str) -> tuple[str, str]:
        """Write the server certificate chain and private key into ``directory``; return both paths."""
        cert_path = os.path.join(directory, "server.pem")
        key_path = os.path.join(directory, "server.key")
        with open(cert_path, "wb") as cert_file:
            for blob in self._server_cert.cert_chain_pems:
                cert_file.write(blob.bytes())
        self._server_cert.private_key_pem.write_to_path(key_path)
        os.chmod(cert_path, 0o644)
        os.chmod(key_path, 0o600)
        return cert_path, key_path

    def cleanup(self) -> None:
        """Delete the directory holding the CA PEM."""
        shutil.rmtree(self.directory, ignore_errors=True)
