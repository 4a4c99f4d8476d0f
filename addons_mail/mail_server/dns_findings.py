"""What a DNS deliverability check reports: the sending hosts it judges, its findings, the report."""
from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Literal

CheckName = Literal["spf", "dkim", "dmarc", "mx"]
Level = Literal["ok", "warning", "error"]
Role = Literal["transactional", "mass_mailing"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class SendingHost:
    """An outgoing SMTP server whose mail must pass SPF: ``host`` is a hostname or an IP literal."""

    name: str
    host: str
    role: Role = "transactional"


@dataclass(frozen=True)
class Finding:
    """One verdict of one check; ``record`` is the DNS record to add or fix, when there is one."""

    check: CheckName
    level: Level
    message: str
    record: str | None = None


@dataclass
class DnsReport:
    """All findings for one domain, in check order (SPF, DKIM, DMARC, MX)."""

    domain: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(finding.level == "error" for finding in self.findings)

    def to_dict(self) -> dict:
        return {
            "domain": self.domain,
            "has_errors": self.has_errors,
            "findings": [asdict(finding) for finding in self.findings],
        }
