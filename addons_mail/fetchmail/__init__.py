"""Incoming mail transport: IMAP/POP servers, the fetch job, the mail pipe, the dead-letter store."""
