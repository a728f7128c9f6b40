"""Upload the file the download step left in /tmp as multipart/form-data, streamed.

The URL comes from pd.inputs["upload_url"], defaulting to the platform docs' example.
"""

import os

import requests
from requests_toolbelt.multipart.encoder import MultipartEncoder

DEFAULT_URL = "https://httpbin.org/post"


def handler(pd: "pipedream"):
    url = pd.inputs.get("upload_url", DEFAULT_URL)
    path = pd.steps["download"]["$return_value"]["path"]
    with open(path, "rb") as f:
        encoder = MultipartEncoder(
            fields={"file": (os.path.basename(path), f, "application/octet-stream")}
        )
        response = requests.post(
            url, data=encoder, headers={"Content-Type": encoder.content_type}, timeout=20
        )
    response.raise_for_status()
    os.unlink(path)
    print(f"uploaded {path} to {url}: HTTP {response.status_code}")
    return {"status": response.status_code, "bytes": encoder.len}
