{
    "name": "sale",
    "version": "0.1.0",
    "depends": ["chatter"],
    "summary": "Sales orders (SO0001, ...), each with a thread",
    "license": "LGPL-3",
}
