"""Download a file to /tmp, streaming it so that memory stays flat.

The URL comes from pd.inputs["download_url"], defaulting to the platform docs' example.
"""

import os

import requests

DEFAULT_URL = "https://www.python.org/static/img/python-logo@2x.png"


def handler(pd: "pipedream"):
    url = pd.inputs.get("download_url", DEFAULT_URL)
    path = "/tmp/download.bin"
    with requests.get(url, stream=True, timeout=20) as response:
        response.raise_for_status()
        with open(path, "wb") as f:
            for chunk in response.iter_content(chunk_size=1 << 16):
                f.write(chunk)
    size = os.path.getsize(path)
    print(f"downloaded {url} to {path} ({size} bytes)")
    return {"path": path, "bytes": size}
