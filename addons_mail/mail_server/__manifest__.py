{
    "name": "mail_server",
    "version": "1.0",
    "depends": [],
    "summary": "Outgoing mail servers, From rules, the send queue, DKIM signing and DNS checks",
    "license": "LGPL-3",
}
