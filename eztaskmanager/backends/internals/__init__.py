"""What eztaskmanager uses of rq, rq-scheduler, redis-py and fakeredis beyond their public API.

One module per library; nothing else in the package reaches into those libraries' internals.
Each use is listed in docs/internals.rst and checked against the installed version by
tests/test_internals.py, which names the library, its version and what changed when one of
them moves.
"""
