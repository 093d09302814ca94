"""`evalloop demo`: a demo team, its set-up, and a simulated chatbot sending traffic.

`seed.py` makes (or finds again) the team and everything it evaluates with, through the
services; `conversations.py` writes realistic support conversations from templates with a
seeded random generator; `simulator.py` is the process that sends them to the API.
"""
