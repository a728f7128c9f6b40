"""Write a file to /tmp (the platform docs' first /tmp example, without the download)."""

import os


def handler(pd: "pipedream"):
    size = int(pd.inputs.get("write_bytes", 1_000_000))
    path = "/tmp/example.bin"
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    print(f"wrote {size} bytes to {path}")
    return {"path": path, "bytes": size}
