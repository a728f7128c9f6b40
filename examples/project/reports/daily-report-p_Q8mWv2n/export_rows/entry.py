import csv
import os


def handler(pd: "pipedream"):
    """Write the day's rows to /tmp, for the next step: the file must be new each run."""
    path = f"/tmp/rows-{pd.steps['trigger']['context']['id']}.csv"
    with open(path, "x", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["hour", "orders"])
        for hour in range(24):
            writer.writerow([hour, (hour * 7) % 11])
    return {"path": path, "bytes": os.path.getsize(path)}
