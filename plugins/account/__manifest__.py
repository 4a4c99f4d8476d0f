{
    "name": "account",
    "version": "0.1.0",
    "depends": ["chatter"],
    "summary": "Customer invoices (INV/2026/0001, ...), each with a thread",
    "license": "LGPL-3",
}
