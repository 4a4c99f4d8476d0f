{
    "name": "fetchmail_test_gateway",
    "version": "0.1",
    "depends": ["fetchmail"],
    "summary": "Throwaway mail gateway for the fetchmail tests: stores messages, dedupes by Message-Id",
    "license": "LGPL-3",
}
