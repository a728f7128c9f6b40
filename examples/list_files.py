"""List what is in /tmp: on a warm EE, what earlier executions left may still be there."""

import os


def handler(pd: "pipedream"):
    names = sorted(name for name in os.listdir("/tmp") if name != "__pdg__")
    for name in names:
        print(name)
    pd.export("files", names)
    return len(names)
