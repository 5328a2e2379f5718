"""Jobs of the bare RQ baseline."""


def noop():
    """Does nothing: the cost of an RQ job and nothing else."""
