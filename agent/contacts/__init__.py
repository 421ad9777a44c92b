"""Contacts, call events and contact statistics (issue 4; U7, U8, U9, C2, A5, B13, B14).

The agent's own counterparts of the manual's ERP data: contacts with their phones
and a number index (service.py), call events (event_service.py), statistics and
ABC classes (stats.py), csv/xls/xlsx/ods imports (imports.py, sales_import.py),
and the wiring into the composition root (wiring.py). The rules are pure, in
agent/core/contacts.py, call_events.py and contact_stats.py. docs/contacts.md is
the user's page and lists what other features may call.
"""
