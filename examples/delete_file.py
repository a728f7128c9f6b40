"""Delete the file when done, as the platform's docs advise: files *may* remain."""

import os


def handler(pd: "pipedream"):
    path = "/tmp/example.bin"
    if os.path.exists(path):
        os.unlink(path)
        print(f"deleted {path}")
    return os.path.exists(path)
