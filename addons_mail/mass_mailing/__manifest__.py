{
    "name": "mass_mailing",
    "version": "0.1",
    "depends": ["chatter"],
    "summary": "Mass mailings through a dedicated server, traces, blacklist and one-click unsubscribe.",
    "license": "Apache-2.0",
}
