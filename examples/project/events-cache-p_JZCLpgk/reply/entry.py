def handler(pd: "pipedream"):
    found = pd.steps["get_events"]["$return_value"]
    pd.respond({"status": 200, "headers": {"x-cache": "hit" if found["cached"] else "miss"},
                "body": {"events": found["events"]}})
    return len(found["events"])
