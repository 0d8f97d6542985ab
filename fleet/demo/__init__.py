"""`fleet demo`: the newcomer's first command (`make demo`).

A simulated hub and three member clusters, a local git config repository, an ApplicationSet and
the controller, all in one process; a live view of every Application until the fleet converges,
then a drift that fleet reverts and a commit that rolls out. See `fleet.demo.run`.
"""
