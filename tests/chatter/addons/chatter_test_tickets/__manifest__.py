{
    "name": "chatter_test_tickets",
    "version": "1.0",
    "depends": ["chatter"],
    "summary": "Throwaway thread model for the chatter tests (tickets)",
    "license": "LGPL-3",
}
