{
    "name": "chatter",
    "version": "0.1.0",
    "depends": ["mail_server", "fetchmail"],
    "summary": "Threads on documents (messages, followers, notifications), aliases and the incoming mail gateway",
    "license": "LGPL-3",
}
