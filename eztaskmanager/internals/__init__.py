"""What eztaskmanager uses of Django and argparse beyond their documented API.

One module per library; nothing else in the package reaches into those libraries' internals.
Each use is listed in docs/internals.rst and checked against the installed version by
tests/test_internals.py. (The Redis side, rq and rq-scheduler, is in
``eztaskmanager.backends.internals``.)
"""
