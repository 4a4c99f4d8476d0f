"""Delivery status notifications (RFC 3464) as a receiving MTA would send them back."""


def make_dsn(*, to: str, failed: str, status: str, message_id: str | None = None, action: str = "failed",
             diagnostic: str | None = None, dsn_id: str = "dsn") -> bytes:
    diagnostic = diagnostic or f"smtp; 550 {status} The email account that you tried to reach does not exist"
    original = (f"Message-ID: {message_id}\r\n" if message_id else "") + "Subject: Our news\r\n\r\nHello\r\n"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{dsn_id}@mx.customer.test>\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        f"\r\n--B\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message to {failed}.\r\n"
        f"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.customer.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
        f"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{original}"
        f"\r\n--B--\r\n"
    ).encode()


def deliver_to_gateway(env, raw: bytes) -> dict:
    """What fetchmail does with a fetched message: hand it to the gateway inside a transaction."""
    with env.atomic():
        return env.pm.hook.process_incoming_message(env=env, raw=raw, server=None)
