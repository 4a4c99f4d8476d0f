{
    "name": "crm",
    "version": "0.1.0",
    "depends": ["chatter"],
    "summary": "Leads, each with a thread; every new email to sales@ creates a lead",
    "license": "LGPL-3",
}
