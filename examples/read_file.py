"""Read back the file an earlier step left in /tmp (steps of one execution share /tmp)."""


def handler(pd: "pipedream"):
    path = pd.steps["write_file"]["$return_value"]["path"]
    with open(path, "rb") as f:
        data = f.read()
    print(f"read {len(data)} bytes from {path}")
    return len(data)
