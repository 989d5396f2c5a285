"""After the list: the call centres (agencies), the contact ledger of every call,
"may I dial now?" (check), dialer exports (calls) and contract origin.
"""
