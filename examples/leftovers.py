"""A step that forgets to clean up: each execution leaves an 8MB file in /tmp.

Cold, it always works; in a warm EE its leftovers pile up until /tmp is full:

    pdee run examples/leftovers.py --events 24 --tmp-size 64MB --interval 60 --chaos 0.08 --seed 3
"""

import os


def handler(pd: "pipedream"):
    name = f"/tmp/cache-{pd.steps['trigger']['context']['id']}.bin"
    with open(name, "wb") as cache:
        cache.write(os.urandom(8 * 2**20))
    return len(os.listdir("/tmp"))
