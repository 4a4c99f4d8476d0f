{
    "name": "fetchmail",
    "version": "0.1",
    "depends": ["mail_server"],
    "summary": "Incoming mail: IMAP/POP servers, the fetch job, the mail pipe and the dead-letter store",
    "license": "LGPL-3",
}
